package eks

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aksbot/aksbot/internal/aks"
)

// Identity asks AWS STS who the bot is (GetCallerIdentity, which needs no IAM permission): the
// account ID and the ARN of the user or role its credentials belong to, for the doctor and the
// startup log. The endpoint is the SDK's (AWS_ENDPOINT_URL_STS for a fake). Errors are
// *aks.Error, except the caller's context ending.
func (c *Client) Identity(ctx context.Context) (account, arn string, err error) {
	c.mu.Lock()
	if c.sts == nil {
		c.sts = sts.NewFromConfig(c.aws, func(o *sts.Options) { o.Region = c.regions[0] })
	}
	api := c.sts
	c.mu.Unlock()
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", identityErr(err)
	}
	account = aws.ToString(out.Account)
	c.idMu.Lock()
	c.account = account // checkAccount needs not ask again
	c.idMu.Unlock()
	return account, aws.ToString(out.Arn), nil
}

const credentialsHint = "check the bot's AWS credentials (AWS_PROFILE, the shared files, IRSA or EKS Pod Identity) and that they have not expired"

// UnreachableHint is what to do when a request could not be sent to AWS at all.
const UnreachableHint = "check the network path from the bot to AWS (proxy, firewall, VPC endpoints) and AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_EKS when they are set"

// Unreachable reports whether err is a request that could not be sent (no connection, no
// answer): the credentials were not even tried.
func Unreachable(err error) bool {
	var send *smithyhttp.RequestSendError
	return errors.As(err, &send)
}

func identityErr(err error) error {
	var (
		api  smithy.APIError
		send *smithyhttp.RequestSendError
	)
	switch {
	case errors.As(err, &api):
		return &aks.Error{Code: aks.EUnavailable,
			Message: fmt.Sprintf("AWS STS refused to say who the bot is: %s: %s", api.ErrorCode(), api.ErrorMessage()),
			Hint:    credentialsHint, Err: err}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("ask AWS STS who the bot is: %w", err)
	case errors.As(err, &send):
		// The cause names the address tried (AWS_ENDPOINT_URL_STS or the regional endpoint).
		return &aks.Error{Code: aks.EUnavailable, Message: "cannot reach AWS STS to ask who the bot is: " + send.Err.Error(),
			Hint: UnreachableHint, Err: err}
	}
	return &aks.Error{Code: aks.EUnavailable, Message: "cannot ask AWS STS who the bot is", Hint: credentialsHint, Err: err}
}

// checkAccount refuses an operation meant for another AWS account than the one the bot's
// credentials are for: a job stored under other credentials must not reach a cluster of the
// same name in this account. want "" (the account was not known when the job was made) passes.
func (c *Client) checkAccount(ctx context.Context, t aks.Target) error {
	if t.Account == "" {
		return nil
	}
	c.idMu.Lock()
	account := c.account
	c.idMu.Unlock()
	if account == "" { // not asked yet (the bot's start asks only when aws.account is not set)
		var err error
		if account, _, err = c.Identity(ctx); err != nil {
			return err
		}
	}
	if account != t.Account {
		return &aks.Error{Code: aks.EInvalid,
			Message: fmt.Sprintf("%s is in AWS account %s, but the bot's credentials are for account %s", t.ClusterName(), t.Account, account),
			Hint:    "ask again for the cluster of the account the bot works in, or run the bot with that account's credentials"}
	}
	return nil
}
