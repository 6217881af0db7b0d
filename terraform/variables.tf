variable "region" {
  description = "AWS region for every resource (the cluster, the reports bucket, EFS). Also written to the portal's ConfigMap as AWS_REGION."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1 or us-gov-west-1."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster; also the prefix of the VPC, IAM roles, the EFS file system and the reports bucket."
  type        = string
  default     = "scanboard"

  validation {
    # <= 24 characters keeps "<cluster>-reports-<account id>-<region>" within S3's 63-character limit.
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-24 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS control plane and node groups. Keep the cluster autoscaler chart (autoscaler.tf) on the matching minor."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.(3[3-9]|[4-9][0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be a <major>.<minor> version, 1.33 or newer (e.g. 1.35)."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC. Each of the three AZs gets a private subnet (nodes, EFS mount targets; 1/16 of the VPC), a public one (load balancers, NAT; 1/256) and an intra one (control-plane ENIs; 1/256)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && can(regex("/1[6-8]$", var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR between /16 and /18 (e.g. 10.0.0.0/16), so the public subnets keep room for load balancers."
  }
}

variable "single_nat_gateway" {
  description = "true: one NAT gateway for the whole VPC (cheaper, but egress of all AZs fails with its AZ). false: one NAT gateway per AZ."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public Kubernetes API endpoint: the machine running terraform/kubectl (e.g. [\"203.0.113.7/32\"]). Nodes use the private endpoint."
  type        = list(string)

  validation {
    condition     = length(var.endpoint_public_access_cidrs) > 0 && alltrue([for c in var.endpoint_public_access_cidrs : can(cidrnetmask(c))])
    error_message = "endpoint_public_access_cidrs must be a non-empty list of IPv4 CIDRs such as 203.0.113.7/32."
  }
}

variable "cluster_admin_arns" {
  description = "IAM role or user ARNs given cluster-admin through EKS access entries, besides the identity that runs terraform."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.cluster_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "cluster_admin_arns must hold IAM role or user ARNs (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "general_node_group" {
  description = "The on-demand `general` node group (label role=general): the portal, Argo, the EventBus and the cluster autoscaler run here."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
  })
  default = {
    instance_types = ["m7i.large", "m6i.large"]
    min_size       = 2
    max_size       = 4
    desired_size   = 2
  }

  validation {
    condition = (
      length(var.general_node_group.instance_types) > 0 &&
      var.general_node_group.min_size >= 1 &&
      var.general_node_group.min_size <= var.general_node_group.desired_size &&
      var.general_node_group.desired_size <= var.general_node_group.max_size
    )
    error_message = "general_node_group needs at least one instance type and 1 <= min_size <= desired_size <= max_size."
  }
}

variable "spot_node_group" {
  description = "The SPOT `spot` node group (label role=spot, taint scanboard.io/spot=true:NoSchedule) the scan pods run on. It starts at 0 nodes and the cluster autoscaler scales it up to max_size. List several instance types of the same vCPU/memory size so Spot capacity can be found and the autoscaler's sizing stays right."
  type = object({
    instance_types = list(string)
    max_size       = number
  })
  default = {
    instance_types = ["m7i.xlarge", "m6i.xlarge", "m6a.xlarge", "m5.xlarge", "m5a.xlarge"]
    max_size       = 10
  }

  validation {
    condition     = length(var.spot_node_group.instance_types) >= 2 && var.spot_node_group.max_size >= 1
    error_message = "spot_node_group needs at least two instance types (Spot capacity pools) and max_size >= 1."
  }
}

variable "reports_retention_days" {
  description = "Days after which a report object expires from the reports bucket. Keep it >= the presigned URL expiry (7 days by default)."
  type        = number
  default     = 90

  validation {
    condition     = var.reports_retention_days >= 7 && var.reports_retention_days <= 3650 && floor(var.reports_retention_days) == var.reports_retention_days
    error_message = "reports_retention_days must be a whole number of days from 7 to 3650."
  }
}

variable "reports_noncurrent_retention_days" {
  description = "Days a replaced or deleted report version is kept (the bucket is versioned) before it is removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.reports_noncurrent_retention_days >= 1 && var.reports_noncurrent_retention_days <= 3650 && floor(var.reports_noncurrent_retention_days) == var.reports_noncurrent_retention_days
    error_message = "reports_noncurrent_retention_days must be a whole number of days from 1 to 3650."
  }
}

variable "reports_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the reports bucket with every report version in it. Keep false; set true (and apply) only right before a teardown."
  type        = bool
  default     = false
}

variable "gitops_repo_url" {
  description = "Git URL of this repository; Argo CD syncs k8s/overlays/prod from it (e.g. https://github.com/example/scanboard.git). A private repository also needs an Argo CD repository Secret (docs/terraform.md)."
  type        = string

  validation {
    condition     = can(regex("^(https://|ssh://|git@)[^\\s\"'\\\\]+$", var.gitops_repo_url))
    error_message = "gitops_repo_url must be an https://, ssh:// or git@ Git URL."
  }
}

variable "gitops_revision" {
  description = "Branch, tag or commit of gitops_repo_url that Argo CD syncs."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.gitops_revision))
    error_message = "gitops_revision must be a branch, tag or commit name (letters, digits, '.', '_', '/', '-')."
  }
}

variable "tags" {
  description = "Extra tags for every AWS resource (merged into the provider's default_tags)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : !startswith(lower(k), "aws:") && length(k) <= 128 && length(v) <= 256])
    error_message = "tags keys must not start with \"aws:\" (reserved) and keys/values must fit AWS limits (128/256 characters)."
  }
}

variable "portal_hostname" {
  description = "DNS name the portal is served at (e.g. scanboard.example.com): set on the portal's Ingress and as PUBLIC_BASE_URL (https://<name>). Point a CNAME at the ALB and have an issued ACM certificate for it in the region (docs/terraform.md)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.portal_hostname))
    error_message = "portal_hostname must be a lowercase DNS name such as scanboard.example.com."
  }
}

variable "smtp_host" {
  description = "SMTP server the portal and the notify step send mail through (the portal's SMTP_HOST), e.g. email-smtp.eu-west-1.amazonaws.com."
  type        = string

  validation {
    condition     = can(regex("^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$", var.smtp_host))
    error_message = "smtp_host must be a DNS name such as email-smtp.eu-west-1.amazonaws.com."
  }
}

variable "smtp_port" {
  description = "SMTP submission port (SMTP_PORT): 587 with STARTTLS, 465 with implicit TLS. The portal's NetworkPolicy opens these two."
  type        = number
  default     = 587

  validation {
    condition     = contains([465, 587], var.smtp_port)
    error_message = "smtp_port must be 587 (STARTTLS) or 465 (implicit TLS): the ports the portal's NetworkPolicy opens."
  }
}

variable "smtp_user" {
  description = "SMTP user name (SMTP_USER); for Amazon SES the SMTP credentials' user name."
  type        = string

  validation {
    condition     = length(var.smtp_user) > 0 && !can(regex("[\\s\"]", var.smtp_user))
    error_message = "smtp_user must be a non-empty user name without spaces or quotes."
  }
}

variable "smtp_sender" {
  description = "The From address of every mail (MAIL_FROM), e.g. scanboard@yourcompany.com; the SMTP server must allow it."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s\"]+@([A-Za-z0-9-]+\\.)+[A-Za-z]{2,63}$", var.smtp_sender))
    error_message = "smtp_sender must be an e-mail address such as scanboard@yourcompany.com."
  }
}

variable "smtp_password" {
  description = "SMTP password. Stored only in the Kubernetes Secret scanboard-smtp (and terraform's state: keep the state encrypted); set it with TF_VAR_smtp_password, never in a .tfvars file in Git."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.smtp_password) > 0
    error_message = "smtp_password must not be empty."
  }
}
