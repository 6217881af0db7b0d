# EBS: block volumes for the pods that need ReadWriteOnce storage, namely the EventBus's JetStream servers
# (k8s/ EventBus persistence). The EBS CSI driver (EKS add-on, eks.tf) provisions them; gp3 is the cluster's
# default StorageClass, so a PVC that names no class gets an encrypted gp3 volume. (EKS marks no StorageClass
# as default on new clusters, and its legacy gp2 class would also need this driver.) The driver's IRSA role is in
# irsa.tf.
resource "kubernetes_storage_class_v1" "gp3" {
  metadata {
    name = local.block_storage_class_name
    annotations = {
      "storageclass.kubernetes.io/is-default-class" = "true"
    }
  }

  storage_provisioner    = "ebs.csi.aws.com"
  reclaim_policy         = "Delete"
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true

  parameters = {
    type      = "gp3"
    encrypted = "true"
  }

  depends_on = [module.eks]
}
