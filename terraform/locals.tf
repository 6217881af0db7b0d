data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first three names (sorted) are used (local.azs); a zone AWS adds later takes a later letter, so the subnets' AZs never change. A fixed name list would not fit every region (ap-northeast-1 has no "b").
  # Regular AZs only: no Local Zones or Wavelength Zones.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, 3)

  # Kubernetes Service CIDR (what EKS picks by default for a 10.x VPC). k8s/ NetworkPolicies name it and
  # var.vpc_cidr's default: tests/test_terraform.py keeps them equal.
  service_cidr = "172.20.0.0/16"

  # Private subnets (nodes, EFS mount targets), one per AZ; the EFS security group admits NFS from these only.
  private_subnet_cidrs = { for i, az in local.azs : az => cidrsubnet(var.vpc_cidr, 4, i) }

  # Public subnets (the internet-facing ALB, NAT), one per AZ. The ALB reaches the portal pods (target-type ip)
  # from these only, so the portal's NetworkPolicy admits exactly these, not the VPC (with the VPC CNI the pods
  # themselves have VPC addresses).
  public_subnet_cidrs = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, i + 48)]

  tags = merge(var.tags, {
    Project   = "scanboard"
    Cluster   = var.cluster_name
    ManagedBy = "terraform"
  })

  # ---------------------------------------------------------------------------------------------------------
  # The contract with k8s/. tests/test_terraform.py holds each of these equal to what
  # `kubectl kustomize k8s/overlays/prod` renders; change both sides together.
  # ---------------------------------------------------------------------------------------------------------
  app_namespace            = "scanboard"
  portal_sa                = "scanboard-portal"
  workflow_sa              = "scanboard-workflow"
  app_configmap            = "scanboard-config"
  bucket_env_var           = "REPORTS_BUCKET"
  region_env_var           = "AWS_REGION"
  storage_class_name       = "aws-efs" # ReadWriteMany (EFS): the Workflow's shared work volume
  block_storage_class_name = "gp3"     # ReadWriteOnce (EBS), the default class: the EventBus's JetStream storage
  argo_namespace           = "argo"
  argo_events_namespace    = "argo-events"
  argocd_namespace         = "argocd"
  gitops_path              = "k8s/overlays/prod"
  image_name               = "ghcr.io/scanboard/scanboard" # the image name k8s/ writes; replaced by the ECR URI
  smtp_secret_name         = "scanboard-smtp"              # Secret the portal and notify step read SMTP_PASSWORD from
  smtp_secret_key          = "password"

  # The bucket's two key prefixes (lib/adapters/storage.py): reports/<scan-id>/ (report.pdf, report.html,
  # findings.json, raw/) and hosts/<host>.json (a host's latest scan). The IRSA policies grant nothing else.
  reports_prefix = "reports/"
  hosts_prefix   = "hosts/"

  # Node groups: their labels and taints are set by EKS on every node, and copied to the ASGs as the cluster
  # autoscaler's node-template tags (eks.tf) so it can scale a group up from 0 nodes.
  node_groups = {
    general = {
      capacity_type = "ON_DEMAND"
      labels        = { role = "general" }
      taints        = {}
    }
    spot = {
      capacity_type = "SPOT"
      labels        = { role = "spot" }
      taints = {
        spot = { key = "scanboard.io/spot", value = "true", effect = "NO_SCHEDULE" }
      }
    }
  }

  # The Kubernetes spelling of the EKS taint effects, for the autoscaler's node-template taint tags.
  taint_effects = {
    NO_SCHEDULE        = "NoSchedule"
    NO_EXECUTE         = "NoExecute"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
  }

  # Platform pods (controllers, Argo, the autoscaler) stay on the on-demand nodes.
  general_node_selector = { role = "general" }
}
