"""Elasticsearch 9 from Maven Central: the integration-test distribution, run with a JDK >= 21.

``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` is the archive Elastic's own
integration tests start: the real server (``bin/elasticsearch``, the server jar with
``dense_vector`` and kNN, Lucene) with four modules only (transport-netty4, x-pack-core,
x-pack-security, apm) and no bundled JDK. ``scripts/install-engines.sh elasticsearch``
fetches it with mvn; ``up`` starts it with security off (plain HTTP, no password).

Surprises (also shown by ``vecbench services status``): the archive lacks the ``rest-root``
module, so ``GET /`` answers 405 (the adapter reads the version from ``GET _nodes/_local``
then); no ingest, painless, or analysis modules; 9.x archives carry no pom and no checksum on
Maven Central, so the SHA-256 is pinned here.
"""

from __future__ import annotations

from vecbench.engines import ENGINES
from vecbench.services._dist import Artifact, Distribution
from vecbench.services._jvm import JvmSearchService

VERSION = "9.5.3"  # the elasticsearch-py 9.x client's major
DISTRIBUTION = Distribution(
    name="elasticsearch",
    server=Artifact(
        "org.elasticsearch.distribution.integ-test-zip",
        "elasticsearch",
        VERSION,
        "bec49f3b8d00e75c8d1cec85c35298635ec9fbd3ae80ef5aeb6bc05abdb3db2d",
    ),
    top_dir=f"elasticsearch-{VERSION}",
)


class ElasticsearchService(JvmSearchService):
    engine = ENGINES["elasticsearch"]
    dist = DISTRIBUTION
    env_prefix = "ES"
    package = "elasticsearch (Maven Central integ-test-zip)"
    notes = (
        f"Elasticsearch {VERSION} integration-test distribution: security off, "
        "no rest-root module (GET / answers 405), no ingest/painless/analysis modules"
    )

    def settings(self, port: int, transport_port: int) -> dict[str, str]:
        return {**super().settings(port, transport_port), "xpack.security.enabled": "false"}
