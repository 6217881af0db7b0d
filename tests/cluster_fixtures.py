"""The cluster-mode fixtures of tests/test_cluster_mode.py (moto S3, the webhook listener, argo settings on the
Kubernetes API test server), for other test modules: `from tests.cluster_fixtures import *`."""

from tests.test_cluster_mode import argo_settings, s3, webhook

__all__ = ["argo_settings", "s3", "webhook"]
