package eks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/aksbot/aksbot/internal/aks"
)

var _ aks.CloudOperation = (*Operation)(nil)

// Begin sends op's mutation and returns the operation to follow. Every mutation that EKS lets
// carry one has ClientRequestToken = requestToken, which the engine derives from the job
// (aks.RequestToken): a request sent again after a crash, or retried by the SDK after a lost
// answer, is the same request to EKS, which answers with the update (or node group) it already
// started instead of starting another. DeleteNodegroup takes no token: deleting again is
// refused while it runs (ErrBusy) or after it ended (ENotFound), the reconcile cases.
//
// The request is made from op alone, never from the plan or a fresh read, so that the same op
// and token give byte-for-byte the same request (plan is taken for the engine's sake and
// unused). Errors: ErrBusy while another operation runs on the node group, ErrExists when
// create finds the name taken; other refusals wrap *aks.AzureError; no answer is EUnavailable.
func (c *Client) Begin(ctx context.Context, op NodegroupOp, plan aks.Plan, requestToken string) (*Operation, error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	if op.Kind != OpDelete && !validToken(requestToken) {
		return nil, fmt.Errorf("eks: request token %q: want 1 to 64 printable characters", requestToken)
	}
	api, region, err := c.api(op.Region)
	if err != nil {
		return nil, err
	}
	op.Region = region
	what := op.Describe()
	cluster, name := aws.String(op.Cluster), aws.String(op.Nodegroup)
	o := &Operation{c: c, op: op, what: what}

	switch op.Kind {
	case OpScale:
		out, err := api.UpdateNodegroupConfig(ctx, &awseks.UpdateNodegroupConfigInput{
			ClusterName: cluster, NodegroupName: name, ClientRequestToken: aws.String(requestToken),
			ScalingConfig: &types.NodegroupScalingConfig{MinSize: op.MinSize, DesiredSize: op.DesiredSize, MaxSize: op.MaxSize},
		})
		if err != nil {
			return nil, c.sendErr(err, what, "")
		}
		o.follow(out.Update)

	case OpUpgrade:
		in := &awseks.UpdateNodegroupVersionInput{ClusterName: cluster, NodegroupName: name,
			ClientRequestToken: aws.String(requestToken), Force: op.Force}
		if op.KubernetesVersion != "" {
			in.Version = aws.String(op.KubernetesVersion)
		}
		if op.ReleaseVersion != "" {
			in.ReleaseVersion = aws.String(op.ReleaseVersion)
		}
		out, err := api.UpdateNodegroupVersion(ctx, in)
		if err != nil {
			return nil, c.sendErr(err, what, "")
		}
		o.follow(out.Update)

	case OpCreate:
		in := &awseks.CreateNodegroupInput{ClusterName: cluster, NodegroupName: name,
			ClientRequestToken: aws.String(requestToken), NodeRole: aws.String(op.NodeRole), Subnets: op.Subnets,
			InstanceTypes: op.InstanceTypes, Labels: op.Labels}
		if op.MinSize != nil || op.DesiredSize != nil || op.MaxSize != nil {
			in.ScalingConfig = &types.NodegroupScalingConfig{MinSize: op.MinSize, DesiredSize: op.DesiredSize, MaxSize: op.MaxSize}
		}
		if op.KubernetesVersion != "" {
			in.Version = aws.String(op.KubernetesVersion)
		}
		if op.ReleaseVersion != "" {
			in.ReleaseVersion = aws.String(op.ReleaseVersion)
		}
		if op.CapacityType != "" {
			in.CapacityType = types.CapacityTypes(op.CapacityType)
		}
		if op.AMIType != "" {
			in.AmiType = types.AMITypes(op.AMIType)
		}
		for _, t := range op.Taints {
			in.Taints = append(in.Taints, types.Taint{Key: aws.String(t.Key), Value: optional(t.Value), Effect: types.TaintEffect(t.Effect)})
		}
		if _, err := api.CreateNodegroup(ctx, in); err != nil {
			return nil, exists(c.sendErr(err, what, ""))
		}
		o.status = OpCreate

	case OpDelete:
		if _, err := api.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: cluster, NodegroupName: name}); err != nil {
			return nil, c.sendErr(err, what, fmt.Sprintf("there is no node group %s in cluster %s (%s)", op.Nodegroup, op.Cluster, region))
		}
		o.status = OpDelete
	}
	c.log.Info("EKS operation started", "what", what, "updateId", o.updateID)
	return o, nil
}

// ErrOutcomeUnknown means a mutation got no answer: the connection failed while the request was
// on its way or the answer was lost, and the SDK's retries (with the same request token) ended
// the same way, so EKS may or may not have acted. Begin returns it with no *aks.Error and no
// *aks.AzureError in the chain, so that the engine looks at the node group and sends the request
// again with the same token instead of failing a job whose change may be running.
var ErrOutcomeUnknown = errors.New("it is not known whether EKS got the request")

// sendErr is mapErr for a mutation: no answer at all is ErrOutcomeUnknown rather than
// EUnavailable, because the request may have arrived.
func (c *Client) sendErr(err error, doing, notFound string) error {
	if Unreachable(err) {
		c.log.Warn("EKS request outcome unknown", "doing", doing, "err", err)
		return fmt.Errorf("%s: %w: %v", doing, ErrOutcomeUnknown, err)
	}
	return c.mapErr(err, doing, notFound)
}

// Resume rebuilds the operation of op from a token ResumeToken returned; it sends nothing.
func (c *Client) Resume(ctx context.Context, op NodegroupOp, token string) (*Operation, error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	_, region, err := c.api(op.Region)
	if err != nil {
		return nil, err
	}
	op.Region = region
	o := &Operation{c: c, op: op, what: op.Describe()}
	switch {
	case strings.HasPrefix(token, tokenUpdate) && len(token) > len(tokenUpdate) && (op.Kind == OpScale || op.Kind == OpUpgrade):
		o.updateID = strings.TrimPrefix(token, tokenUpdate)
	case token == tokenCreate && op.Kind == OpCreate:
		o.status = OpCreate
	case token == tokenDelete && op.Kind == OpDelete:
		o.status = OpDelete
	default:
		return nil, fmt.Errorf("eks: resume %s: token %q does not belong to a %s", o.what, token, op.Kind)
	}
	return o, nil
}

// Resume tokens: an update ID, or the node group's status for creates and deletes.
const (
	tokenUpdate = "update/"
	tokenCreate = "create"
	tokenDelete = "delete"
)

// Operation is one EKS change being followed: an update (scale, upgrade) through DescribeUpdate,
// or a create or delete through the node group's status: the engine's aks.CloudOperation. It is
// not safe for concurrent use (the engine polls one operation from one goroutine).
type Operation struct {
	c    *Client
	op   NodegroupOp
	what string
	// updateID is EKS's update, for scale and upgrade; status is the kind followed by the node
	// group's status (create, delete) otherwise.
	updateID string
	status   OpKind

	done    bool
	failure error // how the ended operation failed; nil = succeeded
	// throttledPolls counts consecutive polls throttled past the SDK's retries.
	throttledPolls int
}

func (o *Operation) follow(u *types.Update) {
	if u != nil {
		o.updateID = aws.ToString(u.Id)
		o.observe(u)
	}
}

// ResumeToken returns the token to store: "update/<ID>", "create" or "delete". It stays valid
// after the end (polling an ended update again is harmless).
func (o *Operation) ResumeToken() (string, error) {
	switch {
	case o.updateID != "":
		return tokenUpdate + o.updateID, nil
	case o.status == OpCreate:
		return tokenCreate, nil
	case o.status == OpDelete:
		return tokenDelete, nil
	}
	return "", fmt.Errorf("eks: %s: EKS returned no update ID", o.what)
}

// OperationID is EKS's update ID, for the audit trail and AWS support; "" for creates and
// deletes, which have none.
func (o *Operation) OperationID() string { return o.updateID }

// FirstPollAfter is 0: EKS does not say when to look again.
func (o *Operation) FirstPollAfter() time.Duration { return 0 }

// Poll sends one DescribeUpdate (or DescribeNodegroup) and reports whether the operation ended.
// Throttling is retried by the SDK's retryer with backoff; when it outlasts those retries, Poll
// returns the error (retryable: a 429 *aks.AzureError) with a wait that doubles from 5 s up to
// 2 minutes, so the engine backs off further.
func (o *Operation) Poll(ctx context.Context) (bool, time.Duration, error) {
	if o.done {
		return true, 0, nil
	}
	api, _, err := o.c.api(o.op.Region)
	if err != nil {
		return false, 0, err
	}
	if o.updateID != "" {
		out, err := api.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(o.op.Cluster),
			UpdateId: aws.String(o.updateID), NodegroupName: aws.String(o.op.Nodegroup)})
		if err != nil {
			return false, o.backoff(err), o.c.mapErr(err, "poll "+o.what, "")
		}
		o.throttledPolls = 0
		o.observe(out.Update)
		return o.done, 0, nil
	}
	out, err := api.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(o.op.Cluster),
		NodegroupName: aws.String(o.op.Nodegroup)})
	if apiCode(err) == codeNotFound {
		o.done = true
		if o.status == OpCreate {
			o.failure = &failure{az: &aks.AzureError{StatusCode: 404, Code: codeNotFound,
				Message: fmt.Sprintf("node group %s disappeared while it was being created", o.op.Nodegroup)}}
		}
		return true, 0, nil
	}
	if err != nil {
		return false, o.backoff(err), o.c.mapErr(err, "poll "+o.what, "")
	}
	o.throttledPolls = 0
	ng := nodegroupFrom(out.Nodegroup)
	switch o.status {
	case OpCreate:
		switch ng.Status {
		case "ACTIVE":
			o.done = true
		case "CREATE_FAILED", "DEGRADED", "DELETING", "DELETE_FAILED":
			o.done = true
			o.failure = statusFailure(ng, "CreateFailed")
		}
	case OpDelete:
		if ng.Status == "DELETE_FAILED" {
			o.done = true
			o.failure = statusFailure(ng, "DeleteFailed")
		}
	}
	return o.done, 0, nil
}

// backoff is the wait Poll suggests after a failed poll: growing for throttling, else none (the
// engine's poll interval).
func (o *Operation) backoff(err error) time.Duration {
	if !throttled(err) {
		return 0
	}
	o.throttledPolls++
	d := 5 * time.Second << min(o.throttledPolls-1, 5)
	return min(d, 2*time.Minute)
}

// observe records an update's status.
func (o *Operation) observe(u *types.Update) {
	switch u.Status {
	case types.UpdateStatusSuccessful:
		o.done = true
	case types.UpdateStatusFailed, types.UpdateStatusCancelled:
		o.done = true
		az := &aks.AzureError{Code: "Update" + string(u.Status),
			Message: fmt.Sprintf("EKS update %s ended %s", aws.ToString(u.Id), u.Status)}
		if len(u.Errors) > 0 {
			e := u.Errors[0]
			az.Code, az.Message = string(e.ErrorCode), aws.ToString(e.ErrorMessage)
		}
		o.failure = &failure{az: az}
	}
}

func statusFailure(ng Nodegroup, code string) error {
	msg := fmt.Sprintf("node group %s is %s", ng.Name, ng.Status)
	if len(ng.Health) > 0 {
		msg += ": " + strings.Join(ng.Health, "; ")
	}
	return &failure{az: &aks.AzureError{Code: code, Message: msg}}
}

// Result returns nil when the ended operation succeeded, or an error wrapping *aks.AzureError
// with EKS's error code and message (the update's first error, or the node group's health).
func (o *Operation) Result(ctx context.Context) error {
	if !o.done {
		return fmt.Errorf("%s: the operation has not ended yet", o.what)
	}
	if o.failure != nil {
		return fmt.Errorf("%s: %w", o.what, o.failure)
	}
	return nil
}

// validToken: EKS takes any string as ClientRequestToken; the bot keeps to short printable ones
// so that they read well in CloudTrail.
func validToken(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func isNotFound(err error) bool { return aks.ErrorCode(err) == aks.ENotFound }
