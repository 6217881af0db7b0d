# One customer-managed key for the project's data at rest: the reports bucket (SSE-KMS) and the EFS work file
# system. The key policy hands control to the account's IAM policies; the IRSA roles (irsa.tf) may use the key
# only through S3 in this region.
resource "aws_kms_key" "data" {
  description             = "${var.cluster_name}: reports bucket and EFS work file system"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountIAMPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.cluster_name}-data"
  target_key_id = aws_kms_key.data.key_id
}
