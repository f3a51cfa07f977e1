package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/aksbot/aksbot/internal/aks"
)

// azureFailure carries an *aks.AzureError for users together with the SDK's error for logs;
// errors.As finds either.
type azureFailure struct {
	az    *aks.AzureError
	cause error
}

func (f *azureFailure) Error() string   { return f.az.Error() }
func (f *azureFailure) Unwrap() []error { return []error{f.az, f.cause} }

// mapErr turns an SDK error into aksbot's errors. doing says what was being done ("get cluster
// rg/x"). notFound, when not empty, is the user message for a 404 (an *aks.Error ENotFound);
// other Azure responses become a wrapped *aks.AzureError with the code and message from the body.
// Errors that are not responses (network, sign-in) become EUnavailable, except the caller's own
// context ending, which is passed on wrapped.
func (c *Client) mapErr(err error, doing, notFound string) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		if re.StatusCode == http.StatusNotFound && notFound != "" {
			return &aks.Error{Code: aks.ENotFound, Message: notFound, Err: err}
		}
		az := azureErrorFrom(re)
		c.log.Debug("Azure refused", "doing", doing, "status", az.StatusCode, "code", az.Code, "err", err)
		return fmt.Errorf("%s: %w", doing, &azureFailure{az: az, cause: err})
	}
	if ctxErr(err) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	c.log.Debug("Azure unreachable", "doing", doing, "err", err)
	return &aks.Error{
		Code:    aks.EUnavailable,
		Message: "cannot reach Azure to " + doing,
		Hint:    "try again in a minute; if it keeps failing, check the bot's Azure credentials",
		Err:     err,
	}
}

// azureErrorFrom reads Azure's error code and message. ARM bodies are {"error":{"code","message"}};
// operation status bodies are {"status":"Failed","error":{...}}; the x-ms-error-code header (which
// azcore puts in ErrorCode) wins for the code.
func azureErrorFrom(re *azcore.ResponseError) *aks.AzureError {
	az := &aks.AzureError{StatusCode: re.StatusCode, Code: re.ErrorCode}
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil && len(body) > 0 {
			var doc struct {
				Error *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Details []struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"details"`
				} `json:"error"`
				Status     string `json:"status"`
				Properties *struct {
					ProvisioningState string `json:"provisioningState"`
				} `json:"properties"`
			}
			if json.Unmarshal(body, &doc) == nil {
				if doc.Error != nil {
					if az.Code == "" {
						az.Code = doc.Error.Code
					}
					az.Message = doc.Error.Message
					if az.Message == "" && len(doc.Error.Details) > 0 {
						az.Message = doc.Error.Details[0].Message
					}
				}
				// A cancelled operation (aborted, or superseded) ends with status Canceled on
				// the status URL, or provisioningState Canceled on the resource; whatever code
				// the error carries, callers see one code for it.
				state := doc.Status
				if state == "" && doc.Properties != nil {
					state = doc.Properties.ProvisioningState
				}
				if canceledState(state) {
					az.Code = CodeCanceled
					if az.Message == "" {
						az.Message = "the operation was canceled"
					}
				}
			}
		}
	}
	if az.Code == "" {
		az.Code = strings.ReplaceAll(http.StatusText(re.StatusCode), " ", "")
	}
	if az.Message == "" {
		az.Message = fmt.Sprintf("the request failed (HTTP %d)", re.StatusCode)
	}
	return az
}

// CodeCanceled is the aks.AzureError code of an operation that ended Canceled (after an abort).
const CodeCanceled = "Canceled"

func canceledState(s string) bool {
	return strings.EqualFold(s, "Canceled") || strings.EqualFold(s, "Cancelled")
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func invalid(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EInvalid, Message: msg, Hint: hint}
}
