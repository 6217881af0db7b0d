output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API server endpoint."
  value       = module.eks.cluster_endpoint
}

output "region" {
  description = "AWS region of the stack."
  value       = var.region
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "reports_bucket" {
  description = "Name of the reports bucket (the portal's and the workflow pods' REPORTS_BUCKET)."
  value       = aws_s3_bucket.reports.id
}

output "portal_role_arn" {
  description = "IRSA role of scanboard/scanboard-portal (list and read reports)."
  value       = aws_iam_role.irsa["portal"].arn
}

output "workflow_role_arn" {
  description = "IRSA role of scanboard/scanboard-workflow (write reports)."
  value       = aws_iam_role.irsa["workflow"].arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of kube-system/cluster-autoscaler."
  value       = aws_iam_role.irsa["cluster-autoscaler"].arn
}

output "efs_csi_role_arn" {
  description = "IRSA role of the EFS CSI driver (kube-system/efs-csi-*)."
  value       = aws_iam_role.irsa["efs-csi"].arn
}

output "ebs_csi_role_arn" {
  description = "IRSA role of the EBS CSI driver (kube-system/ebs-csi-controller-sa)."
  value       = aws_iam_role.irsa["ebs-csi"].arn
}

output "lb_controller_role_arn" {
  description = "IRSA role of kube-system/aws-load-balancer-controller."
  value       = module.lb_controller_irsa.arn
}

output "efs_file_system_id" {
  description = "EFS file system behind the aws-efs StorageClass."
  value       = aws_efs_file_system.work.id
}

output "storage_class" {
  description = "Name of the EFS StorageClass."
  value       = kubernetes_storage_class_v1.efs.metadata[0].name
}

output "kms_key_arn" {
  description = "KMS key encrypting the reports bucket and the EFS file system."
  value       = aws_kms_key.data.arn
}

output "vpc_id" {
  description = "VPC of the cluster."
  value       = module.vpc.vpc_id
}

output "portal_url" {
  description = "Where the portal answers once Argo CD has synced and the ALB is up (CNAME portal_hostname to the ALB first)."
  value       = "https://${var.portal_hostname}"
}

output "alb_hostname_command" {
  description = "Prints the ALB's DNS name to CNAME portal_hostname to."
  value       = "kubectl -n ${local.app_namespace} get ingress ${local.portal_ingress} -o jsonpath='{.status.loadBalancer.ingress[0].hostname}'"
}

output "private_subnet_ids" {
  description = "Private subnets (one per AZ), e.g. for the RDS subnet group of the PostgreSQL database terraform does not create."
  value       = module.vpc.private_subnets
}

output "node_security_group_id" {
  description = "Security group of the nodes: the source to admit on a database's security group (5432)."
  value       = module.eks.node_security_group_id
}

output "image_repository_url" {
  description = "ECR repository of the scanboard image; Argo CD runs <this>:<tag of k8s/overlays/prod> in every scanboard container."
  value       = aws_ecr_repository.app.repository_url
}
