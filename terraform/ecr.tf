# The image every scanboard container runs (the portal and each workflow step but ZAP's). Its URI reaches every
# container through the kustomize `images` override the root Application gives the prod Application
# (templates/gitops-patches.yaml.tftpl); the tag stays the one k8s/overlays/prod pins. Push the release there:
#   docker push $(terraform output -raw image_repository_url):<tag>
resource "aws_ecr_repository" "app" {
  name                 = var.cluster_name
  image_tag_mutability = "IMMUTABLE" # a tag k8s/ pins always names the same image
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

# Untagged layers left by failed pushes go after a week; releases (tagged) are kept.
resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "expire untagged images after 7 days"
      selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
      action       = { type = "expire" }
    }]
  })
}
