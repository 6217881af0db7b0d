# Cluster Autoscaler: the least-privilege policy of the autoscaler's AWS documentation
# (cluster-autoscaler/cloudprovider/aws/README.md, "Full Cluster Autoscaler Features Policy"), its write actions
# restricted to this cluster's tagged Auto Scaling groups, for its IRSA role (irsa.tf); and the Helm release.
#
# Deployed by Helm from terraform, not as an Argo CD Application: it needs values only terraform knows (the IRSA
# role ARN, the cluster name, the region), it is cluster infrastructure that must run before the first scan
# needs a spot node, and `terraform destroy` removes it in the right order. k8s/ holds only the application.
locals {
  cluster_autoscaler_namespace = "kube-system"
  cluster_autoscaler_sa        = "cluster-autoscaler"
  cluster_autoscaler_chart     = "9.59.0" # cluster-autoscaler 1.35.x, the Kubernetes minor of the cluster
}

data "aws_iam_policy_document" "cluster_autoscaler" {
  # Read-only discovery. These Describe/Get actions support no resource-level permissions, hence "*".
  statement {
    sid    = "Discover"
    effect = "Allow"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }

  # Labels and taints of this cluster's managed node groups (scale from 0).
  statement {
    sid       = "DescribeOwnNodegroups"
    effect    = "Allow"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:${local.partition}:eks:${var.region}:${local.account_id}:nodegroup/${var.cluster_name}/*/*"]
  }

  # Writes only on Auto Scaling groups tagged as this cluster's autoscaled node groups (eks.tf).
  statement {
    sid    = "ResizeOwnNodeGroups"
    effect = "Allow"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["arn:${local.partition}:autoscaling:${var.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}"
      values   = ["owned"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"
      values   = ["true"]
    }
  }
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  namespace  = local.cluster_autoscaler_namespace
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = local.cluster_autoscaler_chart

  values = [yamlencode({
    cloudProvider    = "aws"
    awsRegion        = var.region
    fullnameOverride = "cluster-autoscaler"

    # Finds the ASGs tagged k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/<cluster>.
    autoDiscovery = {
      clusterName = module.eks.cluster_name
    }

    rbac = {
      serviceAccount = {
        create      = true
        name        = local.cluster_autoscaler_sa
        annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.irsa["cluster-autoscaler"].arn }
      }
    }

    extraArgs = {
      # The spot group lists several instance types of one size; pick the group that wastes least.
      expander                         = "least-waste"
      balance-similar-node-groups      = true
      skip-nodes-with-system-pods      = false
      scale-down-unneeded-time         = "5m"
      scale-down-delay-after-add       = "5m"
      max-node-provision-time          = "10m"
      scale-down-utilization-threshold = 0.5
    }

    nodeSelector = local.general_node_selector
    resources = {
      requests = { cpu = "100m", memory = "300Mi" }
      limits   = { memory = "600Mi" }
    }
  })]

  depends_on = [module.eks, aws_iam_role_policy.irsa, aws_autoscaling_group_tag.cluster_autoscaler]
}
