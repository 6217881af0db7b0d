# VPC over three AZs: private subnets for the nodes and the EFS mount targets, public subnets for the
# internet-facing load balancer (and the NAT gateways), intra subnets (no route out) for the control plane ENIs.
module "vpc" {
  #checkov:skip=CKV_TF_1:A registry module is pinned by an exact released version; a registry source cannot name a commit hash.
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets = [for az in local.azs : local.private_subnet_cidrs[az]]
  public_subnets  = local.public_subnet_cidrs
  intra_subnets   = [for i, az in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames    = true
  enable_dns_support      = true
  map_public_ip_on_launch = false

  # The default security group allows nothing.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  # VPC flow logs to CloudWatch (rejected and accepted traffic), kept for 30 days.
  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = 30

  # Subnet discovery for the AWS Load Balancer Controller: internet-facing load balancers go to the public
  # subnets, internal ones to the private subnets; the cluster tag marks the subnets this cluster may use.
  # (The cluster autoscaler discovers node groups by their Auto Scaling group tags, set in eks.tf, not by
  # subnet tags.)
  public_subnet_tags = {
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
}
