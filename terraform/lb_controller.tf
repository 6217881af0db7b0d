# AWS Load Balancer Controller: turns the portal's Ingress (ingressClassName alb) into an internet-facing ALB
# in the public subnets (tagged kubernetes.io/role/elb in vpc.tf). Its IAM policy is the controller's published
# iam_policy.json, maintained by the terraform-aws-modules IAM module rather than copied here.
locals {
  lb_controller_namespace = "kube-system"
  lb_controller_sa        = "aws-load-balancer-controller"
  ingress_class           = "alb"
}

module "lb_controller_irsa" {
  #checkov:skip=CKV_TF_1:A registry module is pinned by an exact released version; a registry source cannot name a commit hash.
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version = "6.5.0"

  name            = "${var.cluster_name}-lb-controller"
  use_name_prefix = false
  description     = "AWS Load Balancer Controller of ${var.cluster_name} (IRSA, ${local.lb_controller_namespace}/${local.lb_controller_sa})"

  attach_load_balancer_controller_policy = true
  policy_name                            = "${var.cluster_name}-lb-controller"

  oidc_providers = {
    this = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.lb_controller_namespace}:${local.lb_controller_sa}"]
    }
  }
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = local.lb_controller_namespace
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = "3.5.0"

  values = [yamlencode({
    clusterName = module.eks.cluster_name
    # Given explicitly: the nodes' instance metadata is closed to pods (hop limit 1).
    region = var.region
    vpcId  = module.vpc.vpc_id

    serviceAccount = {
      create      = true
      name        = local.lb_controller_sa
      annotations = { "eks.amazonaws.com/role-arn" = module.lb_controller_irsa.arn }
    }

    createIngressClassResource = true
    ingressClass               = local.ingress_class
    # Only Ingresses are served; no webhook on every Service of type LoadBalancer.
    enableServiceMutatorWebhook = false

    nodeSelector = local.general_node_selector
    resources = {
      requests = { cpu = "100m", memory = "128Mi" }
      limits   = { memory = "256Mi" }
    }
  })]

  depends_on = [module.eks]
}
