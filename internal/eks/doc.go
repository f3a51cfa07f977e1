// Package eks runs aksbot's operations on Amazon EKS managed node groups through the AWS SDK for
// Go v2: it reads clusters and node groups, plans a change against their current state, starts
// it with an idempotency token, and follows it (an EKS update, or the node group's status) to the
// end, also after a restart. It is the EKS twin of package azure and has the same shape as the
// engine's Cloud and Operation ports (internal/jobs/ports.go), so it can be wired in without
// changing how jobs run.
//
// # How it plugs into the engine (next step of issue 12)
//
//   - The domain gains a provider: aks.Target gets Provider ("aks" | "eks") and Region, and the
//     node-group kinds here (NodegroupOp) become aks.Operation kinds (or fields on it). Jobs,
//     approvals, audit and threads stay as they are.
//   - A dispatching jobs.Cloud picks the adapter by the target's provider. Its Begin derives
//     the request token from the job: "aksbot-job-<ID>-<attempt>", where the attempt only grows
//     when the engine knows the previous request did not arrive (reconcile found nothing). A
//     request repeated after a crash thus carries the same token and EKS returns the same
//     update instead of starting a second one. The port's Begin needs the job (or the token)
//     for that: today it gets (op, plan) only.
//   - Crash windows, as the engine sees them: stored, not sent (Begin sends it); sent, token
//     not stored (Begin again with the same request token returns the same update, or
//     ProvisioningState/Applied decide as for AKS); token stored (Resume, then Poll); ended
//     (nothing to do). Resume tokens are "update/<ID>" for scale and upgrade, "create" and
//     "delete" for create and delete, which have no update ID and are followed by the node
//     group's status.
//   - The engine recognises busy and exists through ErrBusy and ErrExists (see there): today it
//     matches Azure's codes (OperationNotAllowed, 409 "in progress", 412), so jobs.busy and
//     jobs.lostCreate get an errors.Is for them. The errors also wrap an *aks.AzureError (the
//     domain's "the cloud said no" type; StatusCode and the EKS code), so the engine's other
//     checks (retryable, fail) work unchanged.
//   - ProvisioningState speaks the engine's vocabulary (Succeeded, Failed, NotFound, Creating,
//     Updating, Deleting), mapped from the EKS statuses; EKS has no abort for node-group updates,
//     so a dispatching Abort answers "not supported" for EKS targets.
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
