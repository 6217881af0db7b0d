# Terraform core and provider versions.
#
# Core and providers are held to one minor series upward (~>): a patch or minor release with fixes is taken, a
# major release (new schemas, removed arguments) never is. The exact builds are then recorded in
# .terraform.lock.hcl by the first `terraform init`: commit that file (docs/terraform.md).
# Modules (vpc.tf, eks.tf, lb_controller.tf) and Helm charts (argo.tf, autoscaler.tf, lb_controller.tf) are
# pinned to exact versions.
terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.2"
    }
  }
}
