# State moves of the IRSA refactoring (one for_each over local.irsa_roles in irsa.tf instead of a role per
# file): an applied stack keeps its roles, policies and attachments, `terraform plan` shows them as moved, not
# replaced. Remove these once every state has been applied with them.
moved {
  from = aws_iam_role.app # portal, workflow: same keys
  to   = aws_iam_role.irsa
}

moved {
  from = aws_iam_role.cluster_autoscaler
  to   = aws_iam_role.irsa["cluster-autoscaler"]
}

moved {
  from = aws_iam_role.ebs_csi
  to   = aws_iam_role.irsa["ebs-csi"]
}

moved {
  from = aws_iam_role.efs_csi
  to   = aws_iam_role.irsa["efs-csi"]
}

moved {
  from = aws_iam_role_policy.cluster_autoscaler
  to   = aws_iam_role_policy.irsa["cluster-autoscaler"]
}

moved {
  from = aws_iam_role_policy.portal
  to   = aws_iam_role_policy.irsa["portal"]
}

moved {
  from = aws_iam_role_policy.workflow
  to   = aws_iam_role_policy.irsa["workflow"]
}

moved {
  from = aws_iam_role_policy_attachment.ebs_csi
  to   = aws_iam_role_policy_attachment.irsa["ebs-csi"]
}

moved {
  from = aws_iam_role_policy_attachment.efs_csi
  to   = aws_iam_role_policy_attachment.irsa["efs-csi"]
}
