# IAM roles for ServiceAccounts (IRSA), all but the load balancer controller's (lb_controller.tf, whose policy
# the terraform-aws-modules IAM module maintains). One entry per role below; one trust policy, one role and its
# policy for every entry. Each role trusts exactly one namespace/ServiceAccount of the cluster's OIDC provider
# (aud sts.amazonaws.com); a ServiceAccount name with a `*` (the EFS CSI driver's two) is matched StringLike,
# any other StringEquals. Argo CD writes the app roles' ARNs onto k8s/'s ServiceAccounts (argo.tf), the
# charts and add-ons get theirs from terraform, so no AWS key is ever stored in the cluster.
#
# Not the terraform-aws-modules/iam `iam-role-for-service-accounts` submodule (6.5.0) for these: it sets
# force_detach_policies, names an inline policy after its role, its autoscaler policy is broader than
# autoscaler.tf's, and checkov (no external module downloads) could no longer see the roles.
locals {
  irsa_roles = {
    cluster-autoscaler = {
      description     = "Cluster Autoscaler of ${var.cluster_name}"
      namespace       = local.cluster_autoscaler_namespace
      service_account = local.cluster_autoscaler_sa
      inline_policy   = { name = "cluster-autoscaler", json = data.aws_iam_policy_document.cluster_autoscaler.json }
      managed_policy  = null
    }
    # The EBS (ebs.tf) and EFS (efs.tf) CSI drivers are EKS add-ons (eks.tf); AWS maintains their policies.
    ebs-csi = {
      description     = "EBS CSI driver of ${var.cluster_name}"
      namespace       = "kube-system"
      service_account = "ebs-csi-controller-sa"
      inline_policy   = null
      managed_policy  = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    }
    # The add-on's controller and node ServiceAccounts: efs-csi-controller-sa and efs-csi-node-sa. The
    # controller creates and deletes the access points.
    efs-csi = {
      description     = "EFS CSI driver of ${var.cluster_name}"
      namespace       = "kube-system"
      service_account = "efs-csi-*"
      inline_policy   = null
      managed_policy  = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
    }
    portal = {
      description     = "scanboard portal: lists, reads and presigns reports"
      namespace       = local.app_namespace
      service_account = local.portal_sa
      inline_policy   = { name = "reports-read", json = data.aws_iam_policy_document.portal.json }
      managed_policy  = null
    }
    workflow = {
      description     = "scanboard workflow pods: read previous findings, publish reports, presign the mailed link"
      namespace       = local.app_namespace
      service_account = local.workflow_sa
      inline_policy   = { name = "reports-write", json = data.aws_iam_policy_document.workflow.json }
      managed_policy  = null
    }
  }

  reports_objects_arn = "${aws_s3_bucket.reports.arn}/${local.reports_prefix}*"
  hosts_objects_arn   = "${aws_s3_bucket.reports.arn}/${local.hosts_prefix}*"
  s3_via_service      = "s3.${var.region}.amazonaws.com"
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa_roles

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
      test     = strcontains(each.value.service_account, "*") ? "StringLike" : "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_roles

  name               = "${var.cluster_name}-${each.key}"
  description        = "${each.value.description} (IRSA, ${each.value.namespace}/${each.value.service_account})"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume[each.key].json
}

resource "aws_iam_role_policy" "irsa" {
  for_each = { for k, r in local.irsa_roles : k => r.inline_policy if r.inline_policy != null }

  name   = each.value.name
  role   = aws_iam_role.irsa[each.key].id
  policy = each.value.json
}

resource "aws_iam_role_policy_attachment" "irsa" {
  for_each = { for k, r in local.irsa_roles : k => r.managed_policy if r.managed_policy != null }

  role       = aws_iam_role.irsa[each.key].name
  policy_arn = each.value
}

# What lib/adapters/storage.py does with the bucket decides these policies:
# - the portal lists reports/, reads report files and findings.json, and presigns GET links to them;
# - the workflow pods (report, publish and notify steps) read the host's previous findings (hosts/<host>.json
#   points at the last scan of a host), upload the report files and move that pointer, and presign the link the
#   report mail carries. A presigned URL acts with its signer's permissions, hence GetObject for both.
# ListBucket (object names only) is what makes S3 answer a missing key with 404 NoSuchKey, which lib/adapters/storage.py
# handles (a host's first scan, a scan that published nothing), instead of 403 AccessDenied.
# Two documents written out, although they share their shape: checkov judges a document's actions (wildcards,
# escalation, writes without constraint) only where they are literal, not when they come from a for_each.
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
