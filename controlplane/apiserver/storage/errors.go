package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrorCode says what went wrong in storage. Codes 1 to 4 are
// kube-apiserver's own: they show in messages users see ("StorageError:
// invalid object, Code: 4, ...").
type ErrorCode int

const (
	// ErrCodeKeyNotFound: the key does not exist.
	ErrCodeKeyNotFound ErrorCode = 1
	// ErrCodeKeyExists: a create found the key taken.
	ErrCodeKeyExists ErrorCode = 2
	// ErrCodeResourceVersionConflicts: an update named a resourceVersion
	// that is no longer the object's.
	ErrCodeResourceVersionConflicts ErrorCode = 3
	// ErrCodeInvalidObj: a precondition did not hold for the stored object.
	ErrCodeInvalidObj ErrorCode = 4
	// ErrCodeTooLargeResourceVersion: a read asked for a resourceVersion
	// newer than etcd has.
	ErrCodeTooLargeResourceVersion ErrorCode = 100
	// ErrCodeExpired: a resourceVersion or continue token names a
	// revision etcd has compacted away.
	ErrCodeExpired ErrorCode = 101
	// ErrCodeBadRequest: the request itself is malformed (a resourceVersion
	// that is not a number, a continue token that does not parse, a key with
	// "..").
	ErrCodeBadRequest ErrorCode = 102
)

var errCodeToMessage = map[ErrorCode]string{
	ErrCodeKeyNotFound:              "key not found",
	ErrCodeKeyExists:                "key exists",
	ErrCodeResourceVersionConflicts: "resource version conflicts",
	ErrCodeInvalidObj:               "invalid object",
}

// OptimisticLockErrorMsg is kube-apiserver's message for an update that
// lost a race with another writer.
const OptimisticLockErrorMsg = "the object has been modified; please apply your changes to the latest version and try again"

// ErrResourceVersionSetOnCreate refuses a create whose object already
// carries a resourceVersion: it was most likely read from somewhere else.
// kube-apiserver answers it as a plain 500 with this message.
var ErrResourceVersionSetOnCreate = errors.New("resourceVersion should not be set on objects to be created")

// Error is a storage failure that handlers turn into an API status with
// ToAPIError.
type Error struct {
	Code ErrorCode
	// Key is the etcd key concerned.
	Key string
	// ResourceVersion is the revision the failure was seen at, when known.
	ResourceVersion int64
	// Message adds detail, and is the whole message for codes above 4.
	Message string
	// Continue, on an expired continue token, resumes the list at the
	// latest revision (inconsistently with the pages already read).
	Continue string
}

func (e *Error) Error() string {
	if desc, ok := errCodeToMessage[e.Code]; ok {
		// kube-apiserver's format, which leaks into Conflict messages.
		return fmt.Sprintf("StorageError: %s, Code: %d, Key: %s, ResourceVersion: %d, AdditionalErrorMsg: %s",
			desc, e.Code, e.Key, e.ResourceVersion, e.Message)
	}
	return e.Message
}

func newError(code ErrorCode, key string, rv int64, msg string) *Error {
	return &Error{Code: code, Key: key, ResourceVersion: rv, Message: msg}
}

func badRequest(format string, args ...any) *Error {
	return &Error{Code: ErrCodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func tooLargeResourceVersion(key string, wanted, current int64) *Error {
	return &Error{
		Code:            ErrCodeTooLargeResourceVersion,
		Key:             key,
		ResourceVersion: current,
		Message:         fmt.Sprintf("Too large resource version: %d, current: %d", wanted, current),
	}
}

// The messages kube-apiserver gives for compacted revisions.
const (
	expiredListMsg     = "The resourceVersion for the provided list is too old."
	expiredContinueMsg = "The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter."
	inconsistentContinueMsg = "The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - " +
		"objects that were created, modified, or deleted between the time the first chunk was returned and now may " +
		"show up in the list."
)

func tooOldWatchMessage(rv, oldest int64) string {
	return fmt.Sprintf("too old resource version: %d (%d)", rv, oldest)
}

func codeOf(err error) ErrorCode {
	var se *Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// IsNotFound reports a missing key.
func IsNotFound(err error) bool { return codeOf(err) == ErrCodeKeyNotFound }

// IsExist reports a create of a key that is taken.
func IsExist(err error) bool { return codeOf(err) == ErrCodeKeyExists }

// IsConflict reports an update that lost to a concurrent one (its
// resourceVersion precondition no longer holds).
func IsConflict(err error) bool { return codeOf(err) == ErrCodeResourceVersionConflicts }

// IsInvalidObj reports a precondition (UID, or resourceVersion on delete)
// that the stored object does not meet.
func IsInvalidObj(err error) bool { return codeOf(err) == ErrCodeInvalidObj }

// IsTooLargeResourceVersion reports a read for a revision etcd has not
// reached.
func IsTooLargeResourceVersion(err error) bool {
	return codeOf(err) == ErrCodeTooLargeResourceVersion
}

// IsExpired reports a resourceVersion or continue token that etcd has
// compacted away.
func IsExpired(err error) bool { return codeOf(err) == ErrCodeExpired }

// IsBadRequest reports a malformed resourceVersion, continue token or key.
func IsBadRequest(err error) bool { return codeOf(err) == ErrCodeBadRequest }

// ToAPIError turns a storage error into the API status kube-apiserver
// answers with for the same failure, naming the resource and object. Errors
// that already are API statuses pass through; anything else becomes a 500
// carrying the error's text, as kube-apiserver's handlers do.
func ToAPIError(err error, gr schema.GroupResource, name string) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	var se *Error
	if !errors.As(err, &se) {
		if errors.Is(err, context.DeadlineExceeded) {
			return apierrors.NewTimeoutError(err.Error(), 0)
		}
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusInternalServerError,
			Reason:  metav1.StatusReasonUnknown,
			Message: err.Error(),
		}}
	}
	switch se.Code {
	case ErrCodeKeyNotFound:
		return apierrors.NewNotFound(gr, name)
	case ErrCodeKeyExists:
		return apierrors.NewAlreadyExists(gr, name)
	case ErrCodeResourceVersionConflicts:
		return apierrors.NewConflict(gr, name, errors.New(OptimisticLockErrorMsg))
	case ErrCodeInvalidObj:
		return apierrors.NewConflict(gr, name, se)
	case ErrCodeTooLargeResourceVersion:
		// The retry hint kube-apiserver's watch cache gives.
		status := apierrors.NewTimeoutError(se.Message, 1)
		status.ErrStatus.Details.Causes = []metav1.StatusCause{{
			Type:    metav1.CauseTypeResourceVersionTooLarge,
			Message: "Too large resource version",
		}}
		return status
	case ErrCodeExpired:
		status := apierrors.NewResourceExpired(se.Message)
		status.ErrStatus.ListMeta.Continue = se.Continue
		return status
	case ErrCodeBadRequest:
		return apierrors.NewBadRequest(se.Message)
	}
	return apierrors.NewInternalError(err)
}
