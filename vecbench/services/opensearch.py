"""OpenSearch 3 from Maven Central: the integration-test distribution plus the k-NN plugin.

``org.opensearch.distribution.integ-test-zip:opensearch`` is the core server with its
standard modules (no security plugin, no bundled JDK); ``org.opensearch.plugin:opensearch-knn``
at exactly the matching version is installed into it with ``bin/opensearch-plugin``. The
plugin archive on Maven Central carries no native libraries (faiss, nmslib): only the
``lucene`` engine can run, and a ``faiss`` index would bring the node down at its first
flush (UnsatisfiedLinkError). The node says so with the attribute
``node.attr.vecbench_knn_native`` (``false`` here), which the ``opensearch`` adapter reads
before it creates a native-engine index.
"""

from __future__ import annotations

from vecbench.engines import ENGINES
from vecbench.errors import StoreError
from vecbench.services._dist import Artifact, Distribution
from vecbench.services._jvm import JvmSearchService
from vecbench.services._proc import http_get
from vecbench.services.base import Note, State

VERSION = "3.5.0"
KNN_PLUGIN = "opensearch-knn"
NATIVE_ATTR = "vecbench_knn_native"
DISTRIBUTION = Distribution(
    name="opensearch",
    server=Artifact(
        "org.opensearch.distribution.integ-test-zip",
        "opensearch",
        VERSION,
        "b676ad392c95a94d8d2bd8785b8b922c7811536daf6a9ec0c7277a34bd8a17a9",
    ),
    top_dir=f"opensearch-{VERSION}",
    plugins=(
        Artifact(
            "org.opensearch.plugin",
            KNN_PLUGIN,
            f"{VERSION}.0",
            "99fdf3ac9ef95974e276298b83a58532bf21ba13bd5fd96a4b59465b7e613309",
        ),
    ),
    plugin_cli="opensearch-plugin",
)


class OpenSearchService(JvmSearchService):
    engine = ENGINES["opensearch"]
    dist = DISTRIBUTION
    env_prefix = "OPENSEARCH"
    package = "opensearch (Maven Central integ-test-zip + opensearch-knn)"
    notes = (
        f"OpenSearch {VERSION} integration-test distribution + k-NN plugin {VERSION}.0 from Maven "
        "Central: no native k-NN libraries, so the lucene engine only; no security plugin"
    )

    def knn_native(self) -> bool:
        """Whether the k-NN plugin's native libraries (faiss) are in the distribution."""
        lib = self.dist_home() / "plugins" / KNN_PLUGIN / "lib"
        return any(lib.glob("libopensearchknn_faiss*.so")) if lib.is_dir() else False

    def settings(self, port: int, transport_port: int) -> dict[str, str]:
        native = "true" if self.knn_native() else "false"
        return {**super().settings(port, transport_port), f"node.attr.{NATIVE_ATTR}": native}

    def after_ready(self, state: State, note: Note) -> None:
        got = http_get(f"http://127.0.0.1:{state.port}/_cat/plugins?h=component", timeout=5.0)
        if not got or KNN_PLUGIN.encode() not in got[1]:
            raise StoreError(f"opensearch started without the {KNN_PLUGIN} plugin (_cat/plugins: {got})")
