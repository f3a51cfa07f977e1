// Package eks runs aksbot's operations on Amazon EKS managed node groups through the AWS SDK for
// Go v2: it reads clusters and node groups, plans a change against their current state, starts
// it with an idempotency token, and follows it (an EKS update, or the node group's status) to the
// end, also after a restart. It is the EKS twin of package azure.
//
// # How it plugs into the engine
//
//   - Client.Cloud is the engine's port (aks.Cloud) for targets with Provider "eks": the
//     target's Pool is the node group, the operation's eks.nodegroup.* kind and NodegroupSpec
//     become a NodegroupOp. A dispatcher picks it or Azure by the target's provider.
//   - Begin passes the engine's per-job request token (aks.RequestToken) as EKS's
//     clientRequestToken, so a request sent again after a crash is the same request: EKS answers
//     with the update it already started instead of starting a second one.
//   - Crash windows, as the engine sees them: stored, not sent (Begin sends it); sent, token
//     not stored (the engine looks at the node group: busy, it sends the request again, see
//     aks.Replayer, and follows the update EKS answers with; at rest, Applied decides); token stored (Resume, then Poll); ended (nothing to do). Resume tokens
//     are "update/<ID>" for scale and upgrade, "create" and "delete" for create and delete,
//     which have no update ID and are followed by the node group's status.
//   - The engine recognises busy and exists through ErrBusy and ErrExists. The errors also wrap
//     an *aks.AzureError (the domain's "the cloud said no" type; StatusCode and the EKS code), so
//     the engine's other checks (retryable, fail) work unchanged.
//   - ProvisioningState speaks the engine's vocabulary (Succeeded, Failed, NotFound, Creating,
//     Updating, Deleting), mapped from the EKS statuses; EKS has no abort for node-group
//     updates, so Abort answers that it cannot.
//   - Client.Reader answers the chat layer's read commands with the renderers' text.
//
// # Credentials and endpoint
//
// New uses config.LoadDefaultConfig: environment variables, the shared config and credentials
// files (a profile), web identity (IRSA), EKS Pod Identity and instance metadata. The endpoint is
// the SDK's: AWS_ENDPOINT_URL_EKS (or AWS_ENDPOINT_URL, or endpoint_url in the profile) points it
// at a local fake such as package sim. Requests are retried by the SDK's standard retryer
// (throttling and 5xx, exponential backoff with jitter).
//
// # Least IAM permissions
//
//	eks:DescribeCluster, eks:ListClusters, eks:DescribeNodegroup, eks:ListNodegroups,
//	eks:DescribeUpdate (eks:Describe*, eks:List*), eks:UpdateNodegroupConfig,
//	eks:UpdateNodegroupVersion, eks:CreateNodegroup, eks:DeleteNodegroup, and iam:PassRole on
//	the node role(s) that created node groups use (EKS also needs the service-linked role
//	AWSServiceRoleForAmazonEKSNodegroup, which exists in most accounts already; creating it takes
//	iam:CreateServiceLinkedRole).
package eks
