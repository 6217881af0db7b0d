# EKS control plane and two managed node groups:
# - general: on-demand, label role=general; the platform (Argo, the portal, the EventBus, the autoscaler).
# - spot:    Spot, several instance types, 0..N nodes, label role=spot and taint scanboard.io/spot=true:NoSchedule;
#            only the scan pods (which select role=spot and tolerate the taint) land here.
module "eks" {
  #checkov:skip=CKV_TF_1:A registry module is pinned by an exact released version; a registry source cannot name a commit hash.
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.intra_subnets
  # Fixed rather than left to EKS's choice: k8s/ NetworkPolicies name it (the kubernetes.default ClusterIP).
  service_ipv4_cidr = local.service_cidr

  # Nodes talk to the API server privately; the public endpoint only admits the operators' CIDRs.
  endpoint_private_access      = true
  endpoint_public_access       = true
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  # Secrets are envelope-encrypted with a KMS key the module creates; all control-plane logs go to CloudWatch.
  enabled_log_types                      = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = 90

  # IRSA: the OIDC provider the roles in irsa.tf and lb_controller.tf trust.
  enable_irsa = true

  # The identity running terraform gets cluster-admin (the Helm and Kubernetes providers need it), and so do
  # the operators listed in cluster_admin_arns.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = true
  access_entries = {
    for arn in var.cluster_admin_arns : arn => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  addons = {
    # Network policy enforcement on: k8s/ relies on NetworkPolicies (the VPC CNI ignores them otherwise).
    vpc-cni = {
      before_compute       = true
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    kube-proxy = {}
    coredns    = {}
    # The CSI drivers behind the aws-efs (efs.tf) and gp3 (ebs.tf) StorageClasses, with their IRSA roles.
    aws-efs-csi-driver = {
      service_account_role_arn = aws_iam_role.irsa["efs-csi"].arn
    }
    aws-ebs-csi-driver = {
      service_account_role_arn = aws_iam_role.irsa["ebs-csi"].arn
    }
  }

  eks_managed_node_groups = {
    general = {
      ami_type       = "AL2023_x86_64_STANDARD"
      capacity_type  = local.node_groups.general.capacity_type
      instance_types = var.general_node_group.instance_types
      min_size       = var.general_node_group.min_size
      max_size       = var.general_node_group.max_size
      desired_size   = var.general_node_group.desired_size
      labels         = local.node_groups.general.labels
      taints         = local.node_groups.general.taints

      block_device_mappings = local.node_block_device_mappings
    }

    spot = {
      ami_type       = "AL2023_x86_64_STANDARD"
      capacity_type  = local.node_groups.spot.capacity_type
      instance_types = var.spot_node_group.instance_types
      # Scale from zero: no scan, no spot node. The cluster autoscaler raises the desired size (the module
      # ignores later changes to desired_size, so terraform does not fight it).
      min_size     = 0
      max_size     = var.spot_node_group.max_size
      desired_size = 0
      labels       = local.node_groups.spot.labels
      taints       = local.node_groups.spot.taints

      block_device_mappings = local.node_block_device_mappings
    }
  }
}

locals {
  node_disk_gib = 50

  # Root volume of every node: encrypted gp3, big enough for the scanner images.
  node_block_device_mappings = {
    xvda = {
      device_name = "/dev/xvda"
      ebs = {
        volume_size           = local.node_disk_gib
        volume_type           = "gp3"
        encrypted             = true
        delete_on_termination = true
      }
    }
  }

  # Cluster autoscaler tags on each node group's Auto Scaling group:
  # - discovery: the autoscaler only manages ASGs carrying k8s.io/cluster-autoscaler/enabled and
  #   k8s.io/cluster-autoscaler/<cluster> (its --node-group-auto-discovery, autoscaler.tf); its IAM policy only
  #   lets it resize ASGs carrying both.
  # - node templates: an ASG at 0 nodes has no node to copy labels and taints from; these tags tell the
  #   autoscaler what a new node would carry, so a pending scan pod (nodeSelector role=spot + toleration)
  #   triggers a scale-up of the spot group from 0.
  autoscaler_asg_tags = flatten([
    for ng, cfg in local.node_groups : concat(
      [
        { node_group = ng, key = "k8s.io/cluster-autoscaler/enabled", value = "true" },
        { node_group = ng, key = "k8s.io/cluster-autoscaler/${var.cluster_name}", value = "owned" },
        { node_group = ng, key = "k8s.io/cluster-autoscaler/node-template/label/eks.amazonaws.com/capacityType", value = cfg.capacity_type },
        { node_group = ng, key = "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage", value = "${local.node_disk_gib}G" },
      ],
      [
        for k, v in cfg.labels :
        { node_group = ng, key = "k8s.io/cluster-autoscaler/node-template/label/${k}", value = v }
      ],
      [
        for t in values(cfg.taints) :
        { node_group = ng, key = "k8s.io/cluster-autoscaler/node-template/taint/${t.key}", value = "${t.value}:${local.taint_effects[t.effect]}" }
      ],
    )
  ])
}

resource "aws_autoscaling_group_tag" "cluster_autoscaler" {
  for_each = { for t in local.autoscaler_asg_tags : "${t.node_group}:${t.key}" => t }

  autoscaling_group_name = one(module.eks.eks_managed_node_groups[each.value.node_group].node_group_autoscaling_group_names)

  tag {
    key                 = each.value.key
    value               = each.value.value
    propagate_at_launch = false
  }
}
