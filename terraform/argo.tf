# Bootstrap: Argo Workflows, Argo Events and Argo CD from their Helm charts (pinned), then one root Argo CD
# Application (app-of-apps). From then on Argo CD keeps the cluster equal to k8s/ in Git:
#
#   scanboard-root  (this file)          syncs k8s/argocd/prod: the AppProject "scanboard" and
#     └─ scanboard-prod  (k8s/argocd/prod)  the Application that syncs k8s/overlays/prod
#
# The root carries this stack's values to k8s/ as kustomize patches (templates/gitops-patches.yaml.tftpl):
# the repository URL and revision, the IRSA role ARNs on the portal and workflow ServiceAccounts, the reports
# bucket, region and SMTP settings in the portal's ConfigMap, the portal's hostname on its Ingress, the ALB's
# subnets on the portal's NetworkPolicy, and the ECR repository as the image of every scanboard container.
locals {
  argo_charts = {
    argo_workflows = "1.0.18" # Argo Workflows v4.0.6
    argo_events    = "2.4.22" # Argo Events v1.9.10
    argo_cd        = "10.1.1" # Argo CD v3.4.4
    argocd_apps    = "2.0.5"
  }
  argo_helm_repository = "https://argoproj.github.io/argo-helm"

  # The Argo CD objects of k8s/argocd/prod the root Application syncs and patches.
  gitops_apps_path      = "k8s/argocd/prod"
  argocd_project        = "scanboard"
  argocd_child_app      = "scanboard-prod"
  portal_ingress        = "scanboard-portal"
  portal_network_policy = "scanboard-portal"
  api_network_policy    = "scanboard-api"

  # JetStream versions the Argo Events controller offers an EventBus; k8s/ pins spec.jetstream.version to one.
  jetstream_versions = [
    {
      version              = "2.10.10"
      natsImage            = "nats:2.10.10"
      metricsExporterImage = "natsio/prometheus-nats-exporter:0.14.0"
      configReloaderImage  = "natsio/nats-server-config-reloader:0.14.0"
      startCommand         = "/nats-server"
    },
  ]

  # The Argo Workflows controller reads its settings from the ConfigMap k8s/base/argo-controller carries
  # (templateReferencing Strict, a non-root executor): the chart is told to create none and to point the
  # controller at that name, so Argo CD is its only owner.
  argo_workflows_release        = "argo-workflows"
  workflow_controller_configmap = "${local.argo_workflows_release}-workflow-controller-configmap"

  gitops = yamldecode(templatefile("${path.module}/templates/gitops-patches.yaml.tftpl", {
    repo_url          = var.gitops_repo_url
    revision          = var.gitops_revision
    project           = local.argocd_project
    apps_path         = local.gitops_apps_path
    child_app         = local.argocd_child_app
    child_path        = local.gitops_path
    app_namespace     = local.app_namespace
    portal_sa         = local.portal_sa
    workflow_sa       = local.workflow_sa
    portal_role_arn   = aws_iam_role.irsa["portal"].arn
    workflow_role_arn = aws_iam_role.irsa["workflow"].arn
    app_configmap     = local.app_configmap
    bucket_env_var    = local.bucket_env_var
    reports_bucket    = aws_s3_bucket.reports.id
    region_env_var    = local.region_env_var
    region            = var.region
    ingress           = local.portal_ingress
    portal_hostname   = var.portal_hostname
    smtp_host         = var.smtp_host
    smtp_port         = tostring(var.smtp_port)
    smtp_user         = var.smtp_user
    smtp_sender       = var.smtp_sender
    image_name        = local.image_name
    image_repository  = aws_ecr_repository.app.repository_url
    portal_policy     = local.portal_network_policy
    api_policy        = local.api_network_policy
    alb_peers         = jsonencode([for cidr in local.public_subnet_cidrs : { ipBlock = { cidr = cidr } }])
  }))
}

resource "helm_release" "argo_workflows" {
  name             = local.argo_workflows_release
  namespace        = local.argo_namespace
  create_namespace = true
  repository       = local.argo_helm_repository
  chart            = "argo-workflows"
  version          = local.argo_charts.argo_workflows
  timeout          = 900

  values = [yamlencode({
    crds = { install = true, keep = true }

    # The scan Workflows run in the app namespace under k8s/'s own ServiceAccount and Role
    # (scanboard-workflow), so the chart creates neither.
    singleNamespace = false
    workflow = {
      serviceAccount = { create = false }
      rbac           = { create = false }
    }

    controller = {
      workflowNamespaces = [local.app_namespace]
      nodeSelector       = local.general_node_selector
      configMap          = { create = false, name = local.workflow_controller_configmap }
    }

    # The Argo UI for operators, reached with `kubectl port-forward`; it acts with the caller's own token.
    server = {
      enabled      = true
      authModes    = ["client"]
      nodeSelector = local.general_node_selector
    }
  })]

  depends_on = [module.eks]
}

resource "helm_release" "argo_events" {
  name             = "argo-events"
  namespace        = local.argo_events_namespace
  create_namespace = true
  repository       = local.argo_helm_repository
  chart            = "argo-events"
  version          = local.argo_charts.argo_events
  timeout          = 900

  values = [yamlencode({
    crds = { install = true, keep = true }
    configs = {
      jetstream = {
        versions = local.jetstream_versions
      }
    }
    controller = {
      nodeSelector = local.general_node_selector
    }
  })]

  depends_on = [module.eks]
}

resource "helm_release" "argo_cd" {
  name             = "argo-cd"
  namespace        = local.argocd_namespace
  create_namespace = true
  repository       = local.argo_helm_repository
  chart            = "argo-cd"
  version          = local.argo_charts.argo_cd
  timeout          = 900

  values = [yamlencode({
    crds = { install = true, keep = true }
    global = {
      nodeSelector = local.general_node_selector
    }
    # No SSO configured: operators use the admin account (docs/terraform.md) through a port-forward.
    dex = { enabled = false }
  })]

  depends_on = [module.eks]
}

# The root Application. It is created last: the charts above bring the CRDs its children need (EventBus,
# EventSource, Sensor, WorkflowTemplate), the load balancer controller serves the Ingress, the StorageClass and
# the IRSA roles exist. On destroy it goes first, while Argo CD and the load balancer controller still run:
# its finalizer has Argo CD delete the application's objects, the Ingress among them, so the controller deletes
# the ALB before terraform removes the VPC.
resource "helm_release" "argocd_root_app" {
  name       = "scanboard-root"
  namespace  = local.argocd_namespace
  repository = local.argo_helm_repository
  chart      = "argocd-apps"
  version    = local.argo_charts.argocd_apps

  values = [yamlencode({
    applications = {
      scanboard-root = {
        namespace  = local.argocd_namespace
        project    = "default"
        finalizers = ["resources-finalizer.argocd.argoproj.io"]
        source = {
          repoURL        = var.gitops_repo_url
          targetRevision = var.gitops_revision
          path           = local.gitops_apps_path
          kustomize = {
            patches = local.gitops.root_patches
          }
        }
        destination = {
          server    = "https://kubernetes.default.svc"
          namespace = local.argocd_namespace
        }
        syncPolicy = {
          automated   = { prune = true, selfHeal = true }
          syncOptions = ["PrunePropagationPolicy=foreground"]
          retry = {
            limit   = 5
            backoff = { duration = "10s", factor = 2, maxDuration = "3m" }
          }
        }
      }
    }
  })]

  depends_on = [
    helm_release.argo_cd,
    helm_release.argo_workflows,
    helm_release.argo_events,
    helm_release.aws_load_balancer_controller,
    helm_release.cluster_autoscaler,
    kubernetes_storage_class_v1.efs,
    kubernetes_storage_class_v1.gp3,
    aws_iam_role_policy.irsa,
  ]
}
