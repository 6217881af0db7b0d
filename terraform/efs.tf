# EFS: the shared ReadWriteMany work volume of a scan Workflow (StorageClass aws-efs). Each PVC gets its own
# EFS access point (dynamic provisioning, provisioningMode efs-ap), deleted with the PVC. The EFS CSI driver's
# IRSA role, which creates and deletes the access points, is in irsa.tf.
# No AWS Backup plan: this is scratch space of running scans (each PVC goes with its Workflow); the results live
# in the versioned reports bucket.
resource "aws_efs_file_system" "work" {
  creation_token   = "${var.cluster_name}-work"
  encrypted        = true
  kms_key_id       = aws_kms_key.data.arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  tags = {
    Name = "${var.cluster_name}-work"
  }
}

# Only TLS mounts through a mount target: the StorageClass mounts with the `tls` option.
resource "aws_efs_file_system_policy" "work" {
  file_system_id = aws_efs_file_system.work.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "MountThroughMountTargets"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.work.arn
        Condition = { Bool = { "elasticfilesystem:AccessedViaMountTarget" = "true" } }
      },
      {
        Sid       = "DenyWithoutTLS"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "*"
        Resource  = aws_efs_file_system.work.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_security_group" "efs" {
  name        = "${var.cluster_name}-efs"
  description = "NFS (TCP 2049) to the EFS work file system from the private node subnets only"
  vpc_id      = module.vpc.vpc_id

  tags = {
    Name = "${var.cluster_name}-efs"
  }
}

resource "aws_vpc_security_group_ingress_rule" "efs_nfs" {
  for_each = local.private_subnet_cidrs

  security_group_id = aws_security_group.efs.id
  description       = "NFS from the private subnet in ${each.key}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 2049
  to_port           = 2049
}

# One mount target per AZ, in that AZ's private subnet.
resource "aws_efs_mount_target" "work" {
  for_each = { for i, az in local.azs : az => i }

  file_system_id  = aws_efs_file_system.work.id
  subnet_id       = module.vpc.private_subnets[each.value]
  security_groups = [aws_security_group.efs.id]
}

# The StorageClass the WorkflowTemplate's volumeClaimTemplates name (k8s/).
resource "kubernetes_storage_class_v1" "efs" {
  metadata {
    name = local.storage_class_name
  }

  storage_provisioner = "efs.csi.aws.com"
  reclaim_policy      = "Delete"
  volume_binding_mode = "Immediate"
  mount_options       = ["tls"]

  parameters = {
    provisioningMode      = "efs-ap"
    fileSystemId          = aws_efs_file_system.work.id
    directoryPerms        = "700"
    basePath              = "/scans"
    ensureUniqueDirectory = "true"
  }

  depends_on = [module.eks, aws_efs_mount_target.work]
}
