# The reports bucket: report files and findings.json under reports/<scan-id>/ and each host's latest-scan pointer
# under hosts/ (lib/adapters/storage.py), written by the workflow pods and read (and presigned) by the portal and the
# pods. Private, SSE-KMS, versioned, expiring, TLS-only.
resource "aws_s3_bucket" "reports" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket; access to reports is already limited to two IRSA roles and can be audited with CloudTrail S3 data events.
  #checkov:skip=CKV_AWS_144:Reports are regenerable and expire after reports_retention_days; a cross-region replica would double cost and the data's exposure for no recovery need.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events: the portal learns of a new report from the Workflow status.
  bucket        = "${var.cluster_name}-reports-${local.account_id}-${var.region}"
  force_destroy = var.reports_bucket_force_destroy
}

resource "aws_s3_bucket_public_access_block" "reports" {
  bucket = aws_s3_bucket.reports.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the bucket owner owns every object, access is by policy only.
resource "aws_s3_bucket_ownership_controls" "reports" {
  bucket = aws_s3_bucket.reports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "reports" {
  bucket = aws_s3_bucket.reports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "reports" {
  bucket = aws_s3_bucket.reports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "reports" {
  bucket = aws_s3_bucket.reports.id

  rule {
    id     = "expire-reports"
    status = "Enabled"

    filter {
      prefix = local.reports_prefix
    }

    expiration {
      days = var.reports_retention_days
    }
  }

  # A host's pointer to its latest scan outlives no report it could point to.
  rule {
    id     = "expire-host-pointers"
    status = "Enabled"

    filter {
      prefix = local.hosts_prefix
    }

    expiration {
      days = var.reports_retention_days
    }
  }

  rule {
    id     = "housekeeping"
    status = "Enabled"

    # Whole bucket: replaced and deleted versions, unfinished multipart uploads, and the delete markers that
    # expiry leaves behind.
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.reports_noncurrent_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.reports]
}

# Requests the bucket refuses, whoever makes them: plain HTTP, and TLS older than 1.2. Each denial is one
# statement on the bucket and its objects; they differ only in their condition.
locals {
  reports_bucket_denials = {
    DenyInsecureTransport = { test = "Bool", variable = "aws:SecureTransport", values = ["false"] }
    DenyTLSOlderThan12    = { test = "NumericLessThan", variable = "s3:TlsVersion", values = ["1.2"] }
  }
}

data "aws_iam_policy_document" "reports_bucket" {
  dynamic "statement" {
    for_each = local.reports_bucket_denials

    content {
      sid     = statement.key
      effect  = "Deny"
      actions = ["s3:*"]
      resources = [
        aws_s3_bucket.reports.arn,
        "${aws_s3_bucket.reports.arn}/*",
      ]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = statement.value.values
      }
    }
  }
}

resource "aws_s3_bucket_policy" "reports" {
  bucket = aws_s3_bucket.reports.id
  policy = data.aws_iam_policy_document.reports_bucket.json

  # A bucket policy is rejected while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.reports]
}
