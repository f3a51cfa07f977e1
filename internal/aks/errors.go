package aks

import (
	"errors"
	"fmt"
)

// Error codes an Error can carry. The edges (Slack, console) map them to words; nothing else
// parses messages.
const (
	ENotFound     = "not_found"    // the cluster, pool or job does not exist
	EInvalid      = "invalid"      // the request is wrong (bad input, or impossible in the current state)
	EUnauthorized = "unauthorized" // the user may not do this
	EConflict     = "conflict"     // the resource or job changed under us, or is busy
	EUnavailable  = "unavailable"  // a dependency (Azure, Slack, the data file) cannot be used now
	EInternal     = "internal"     // a bug or an unexpected failure
)

// Error is an application error: a code for programs and a message for the person who asked.
// Hint says what they can do next; it may be empty.
type Error struct {
	Code    string
	Message string
	Hint    string
	Err     error // the underlying cause, for logs; never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns err's application code: EInternal for errors that are not *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}

// AzureError is a failure Azure reported: its error code and message, as shown to users.
type AzureError struct {
	StatusCode int    `json:"statusCode,omitempty"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

func (e *AzureError) Error() string {
	return fmt.Sprintf("Azure: %s: %s", e.Code, e.Message)
}
