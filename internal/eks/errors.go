package eks

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/aksbot/aksbot/internal/aks"
)

// ErrBusy means EKS refused a change because another operation runs on the node group (or the
// group is not at rest): ResourceInUseException, HTTP 409. It is EKS's counterpart of AKS's
// 409 "operation in progress": nothing was started, and the same request may be sent again once
// the group is ACTIVE. The engine waits and retries on it (errors.Is(err, ErrBusy)).
var ErrBusy = aks.ErrBusy

// ErrExists means CreateNodegroup was refused because a node group of that name exists
// (ResourceInUseException on create). After a crash or a lost answer this is usually the bot's
// own earlier create: the engine reconciles (Applied reports true once it exists) instead of
// failing the job. A create whose token EKS has seen answers with the node group instead.
var ErrExists = aks.ErrExists

// Error codes of EKS errors the adapter looks at (types.*Exception's ErrorCode()).
const (
	codeInUse    = "ResourceInUseException"
	codeNotFound = "ResourceNotFoundException"
	codeThrottle = "ThrottlingException"
)

// failure carries an *aks.AzureError (the domain's "the cloud refused", with EKS's status, code
// and message), an optional sentinel (ErrBusy, ErrExists) and the SDK's error for logs; errors.As
// and errors.Is find each.
type failure struct {
	az       *aks.AzureError
	sentinel error
	cause    error
	orig     string // EKS's own message
}

func (f *failure) Error() string {
	return fmt.Sprintf("EKS: %s: %s", f.az.Code, f.az.Message)
}

func (f *failure) Unwrap() []error {
	errs := []error{f.az}
	if f.sentinel != nil {
		errs = append(errs, f.sentinel)
	}
	if f.cause != nil {
		errs = append(errs, f.cause)
	}
	return errs
}

// mapErr turns an SDK error into aksbot's errors. doing says what was being done ("scale node
// group web-prod/ng-web"). notFound, when not empty, is the user message for
// ResourceNotFoundException (an *aks.Error ENotFound). ResourceInUseException becomes a failure
// wrapping ErrBusy; other EKS answers a failure wrapping *aks.AzureError. Errors without an answer
// (network, credentials) become EUnavailable, except the caller's own context ending.
func (c *Client) mapErr(err error, doing, notFound string) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		status := 0
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		code := api.ErrorCode()
		if code == codeNotFound && notFound != "" {
			return &aks.Error{Code: aks.ENotFound, Message: notFound, Err: err}
		}
		f := &failure{az: &aks.AzureError{StatusCode: status, Code: code, Message: api.ErrorMessage()}, cause: err, orig: api.ErrorMessage()}
		if f.az.Message == "" {
			f.az.Message = fmt.Sprintf("the request failed (HTTP %d)", status)
		}
		if code == codeInUse {
			f.sentinel = ErrBusy
			// The engine's busy test for AKS looks for "in progress" in a 409's message.
			f.az.Message = "another operation is in progress: " + f.az.Message
		}
		c.log.Debug("EKS refused", "doing", doing, "status", status, "code", code, "err", err)
		return fmt.Errorf("%s: %w", doing, f)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	c.log.Debug("EKS unreachable", "doing", doing, "err", err)
	return &aks.Error{
		Code:    aks.EUnavailable,
		Message: "cannot reach EKS to " + doing,
		Hint:    "try again in a minute; if it keeps failing, check the bot's AWS credentials and region",
		Err:     err,
	}
}

// apiCode returns the EKS error code in err, or "".
func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// exists turns a create's busy failure into ErrExists: on CreateNodegroup, ResourceInUseException
// says the name is taken.
func exists(err error) error {
	var f *failure
	if !errors.As(err, &f) || f.sentinel != ErrBusy {
		return err
	}
	f.sentinel = ErrExists
	f.az.Message = "a node group of that name exists already: " + f.orig
	return err
}

// throttled reports whether an SDK error is EKS throttling (that outlasted the SDK's retries).
func throttled(err error) bool {
	var re *awshttp.ResponseError
	return apiCode(err) == codeThrottle || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusTooManyRequests)
}

func invalid(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EInvalid, Message: msg, Hint: hint}
}
