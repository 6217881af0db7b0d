# The portal and the workflow's notify step mail confirmation links and reports through this SMTP server.
# Host, port, sender and user reach the portal's ConfigMap through the GitOps patches; the password goes into
# the Secret below (never into Git), which the portal and the notify step read as SMTP_PASSWORD.
# The namespace is created here too so the Secret can exist before Argo CD's first sync; Argo CD then adopts
# it from k8s/base/namespace.yaml (same name and labels) and adds only its tracking metadata.
resource "kubernetes_namespace_v1" "app" {
  metadata {
    name = local.app_namespace
    labels = {
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/audit"   = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
    }
  }

  lifecycle {
    ignore_changes = [metadata[0].labels, metadata[0].annotations]
  }

  depends_on = [module.eks]
}

resource "kubernetes_secret_v1" "smtp" {
  metadata {
    name      = local.smtp_secret_name
    namespace = kubernetes_namespace_v1.app.metadata[0].name
  }
  data = {
    (local.smtp_secret_key) = var.smtp_password
  }
  type = "Opaque"
}
