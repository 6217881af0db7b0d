# IAM roles for the application's ServiceAccounts (IRSA). Each role trusts exactly one namespace/ServiceAccount
# of k8s/ through the cluster's OIDC provider; Argo CD writes the role ARNs onto those ServiceAccounts
# (argo.tf), so no AWS key is ever stored in the cluster.
locals {
  app_irsa_roles = {
    portal = {
      service_account = local.portal_sa
      description     = "scanboard portal: lists, reads and presigns reports"
    }
    workflow = {
      service_account = local.workflow_sa
      description     = "scanboard workflow pods: read previous findings, publish reports, presign the mailed link"
    }
  }

  reports_objects_arn = "${aws_s3_bucket.reports.arn}/${local.reports_prefix}*"
  hosts_objects_arn   = "${aws_s3_bucket.reports.arn}/${local.hosts_prefix}*"
  s3_via_service      = "s3.${var.region}.amazonaws.com"
}

data "aws_iam_policy_document" "app_assume" {
  for_each = local.app_irsa_roles

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${local.app_namespace}:${each.value.service_account}"]
    }
  }
}

resource "aws_iam_role" "app" {
  for_each = local.app_irsa_roles

  name               = "${var.cluster_name}-${each.key}"
  description        = "${each.value.description} (IRSA, ${local.app_namespace}/${each.value.service_account})"
  assume_role_policy = data.aws_iam_policy_document.app_assume[each.key].json
}

# What lib/storage.py does with the bucket decides these policies:
# - the portal lists reports/, reads report files and findings.json, and presigns GET links to them;
# - the workflow pods (report, publish and notify steps) read the host's previous findings (hosts/<host>.json
#   points at the last scan of a host), upload the report files and move that pointer, and presign the link the
#   report mail carries. A presigned URL acts with its signer's permissions, hence GetObject for both.
# ListBucket (object names only) is what makes S3 answer a missing key with 404 NoSuchKey, which lib/storage.py
# handles (a host's first scan, a scan that published nothing), instead of 403 AccessDenied.
data "aws_iam_policy_document" "portal" {
  statement {
    sid       = "ListBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.reports.arn]
  }

  statement {
    sid       = "ReadReports"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = [local.reports_objects_arn]
  }

  statement {
    sid       = "DecryptThroughS3"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via_service]
    }
  }
}

resource "aws_iam_role_policy" "portal" {
  name   = "reports-read"
  role   = aws_iam_role.app["portal"].id
  policy = data.aws_iam_policy_document.portal.json
}

# AbortMultipartUpload lets boto3 clean up a failed large upload; SSE-KMS needs GenerateDataKey for a PutObject
# and Decrypt for a GetObject or a multipart upload.
data "aws_iam_policy_document" "workflow" {
  statement {
    sid       = "ListBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.reports.arn]
  }

  statement {
    sid       = "ReadAndWriteReportsAndHostPointers"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.reports_objects_arn, local.hosts_objects_arn]
  }

  statement {
    sid       = "EncryptThroughS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via_service]
    }
  }
}

resource "aws_iam_role_policy" "workflow" {
  name   = "reports-write"
  role   = aws_iam_role.app["workflow"].id
  policy = data.aws_iam_policy_document.workflow.json
}
