package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// reply is a handler's answer, written after its transaction commits.
type reply struct {
	status int
	header http.Header
	body   any // marshalled as JSON; nil means no body
}

func errReply(e *apiError) *reply {
	h := http.Header{}
	h.Set("x-ms-error-code", e.Code)
	return &reply{status: e.Status, header: h, body: map[string]any{"error": e}}
}

// call is one request as the handlers see it.
type call struct {
	r    *http.Request
	path string
	segs []string // path segments, original case
	low  []string // path segments, lower case
	body []byte
	now  time.Time
	base string // scheme://host for absolute polling URLs
}

func (c *Cloud) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.EqualFold(strings.TrimRight(r.URL.Path, "/"), "/api/retail/prices") {
		c.servePrices(w, r) // the Retail Prices API is not ARM: no token, no faults, not logged
		return
	}
	now := c.now()
	path := r.URL.Path
	c.log.Debug("simulated ARM request", "method", r.Method, "path", path)
	idx, inj := c.record(r, now)
	served := 0 // set when the answer sent is not the one served (a lost response)
	// The status goes into the request log before the answer leaves, so whoever reads the
	// answer finds it logged.
	answer := func(rep *reply) {
		if served == 0 {
			served = rep.status
		}
		c.answered(idx, served, rep.status)
		c.write(w, rep)
	}
	if inj != nil {
		rep := errReply(&apiError{Status: inj.status, Code: inj.code, Message: fmt.Sprintf("Injected failure: %s.", http.StatusText(inj.status))})
		if inj.status == http.StatusTooManyRequests || inj.status == http.StatusServiceUnavailable {
			c.setRetryAfter(rep.header)
		}
		answer(rep)
		return
	}
	f := c.drawFault(r.Method)
	if f == faultThrottle || f == faultServerError || f == faultConflict {
		answer(c.faultReply(f))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		answer(errReply(errorf(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		answer(errReply(errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read: %v", err)))
		return
	}
	cl := &call{r: r, path: path, body: body, now: now, base: baseURL(r)}
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		cl.segs = append(cl.segs, s)
		cl.low = append(cl.low, strings.ToLower(s))
	}

	var rep *reply
	err = c.db.Update(func(tx *bolt.Tx) error {
		if err := c.advance(tx, now); err != nil {
			return err
		}
		var err error
		rep, err = c.route(tx, cl)
		return err
	})
	if err != nil {
		c.log.Error("simulated ARM request failed", "method", r.Method, "path", path, "err", err)
		rep = errReply(errorf(http.StatusInternalServerError, "InternalServerError", "The simulated cloud could not process the request."))
	}
	if f == faultLostResponse && rep.status >= 200 && rep.status < 300 {
		// Applied and committed; the caller only hears of a server error.
		c.countLostResponse()
		c.log.Debug("simulated lost response", "method", r.Method, "path", path)
		served = rep.status
		rep = c.faultReply(faultServerError)
	}
	answer(rep)
}

func baseURL(r *http.Request) string {
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme + "://" + host
}

func (c *Cloud) write(w http.ResponseWriter, rep *reply) {
	h := w.Header()
	for k, vs := range rep.header {
		h[k] = vs
	}
	h.Set("x-ms-request-id", newUUID())
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	raw, err := json.Marshal(rep.body)
	if err != nil {
		c.log.Error("encode simulated ARM reply", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(raw)
}

// setRetryAfter sets Retry-After in whole seconds, plus Retry-After-Ms (which azcore prefers)
// when the interval is not a whole number of seconds.
func (c *Cloud) setRetryAfter(h http.Header) {
	if c.retryAfter <= 0 {
		return
	}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(c.retryAfter.Seconds()))))
	if c.retryAfter%time.Second != 0 {
		h.Set("Retry-After-Ms", strconv.FormatInt(c.retryAfter.Milliseconds(), 10))
	}
}

// route dispatches on the path. Paths are matched case-insensitively, as ARM does.
func (c *Cloud) route(tx *bolt.Tx, cl *call) (*reply, error) {
	l := cl.low
	n := len(l)
	if n < 2 || l[0] != "subscriptions" {
		return notFoundPath(cl), nil
	}
	method := cl.r.Method
	is := func(m string) bool { return method == m }

	// /subscriptions/{sub}/providers/Microsoft.Compute/...: vCPU quotas and VM sizes
	if n >= 5 && l[2] == "providers" && l[3] == "microsoft.compute" && is(http.MethodGet) {
		switch {
		case n == 7 && l[4] == "locations" && l[6] == "usages":
			return c.usages(tx, cl.segs[1], cl.segs[5])
		case n == 5 && l[4] == "skus":
			return c.resourceSKUs(cl), nil
		}
		return notFoundPath(cl), nil
	}

	// /subscriptions/{sub}/providers/Microsoft.ContainerService/...
	if n >= 5 && l[2] == "providers" && l[3] == "microsoft.containerservice" {
		switch {
		case n == 5 && l[4] == "managedclusters" && is(http.MethodGet):
			return c.listClusters(tx, cl, cl.segs[1], "")
		case n == 7 && l[4] == "locations" && l[6] == "kubernetesversions" && is(http.MethodGet):
			return c.kubernetesVersions(), nil
		case n == 8 && l[4] == "locations" && (l[6] == "operations" || l[6] == "operationstatuses" || l[6] == "operationstatus") && is(http.MethodGet):
			return c.operationStatus(tx, cl, l[7])
		case n == 8 && l[4] == "locations" && l[6] == "operationresults" && is(http.MethodGet):
			return c.operationResult(tx, cl, l[7])
		}
		return notFoundPath(cl), nil
	}

	// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters...
	if n < 7 || l[2] != "resourcegroups" || l[4] != "providers" || l[5] != "microsoft.containerservice" || l[6] != "managedclusters" {
		return notFoundPath(cl), nil
	}
	sub, rg := cl.segs[1], cl.segs[3]
	if n == 7 {
		if is(http.MethodGet) {
			return c.listClusters(tx, cl, sub, rg)
		}
		return methodNotAllowed(cl), nil
	}
	name := cl.segs[7]
	key := clusterKey(sub, rg, name)
	switch {
	case n == 8:
		switch method {
		case http.MethodGet:
			return c.getCluster(tx, key, rg, name)
		case http.MethodPut:
			return c.putCluster(tx, cl, sub, rg, name)
		case http.MethodDelete:
			return c.deleteCluster(tx, cl, key)
		}
		return methodNotAllowed(cl), nil
	case n == 9 && (l[8] == "start" || l[8] == "stop") && is(http.MethodPost):
		return c.startStop(tx, cl, key, rg, name, l[8] == "start")
	case n == 9 && l[8] == "abort" && is(http.MethodPost):
		return c.abort(tx, cl, key, rg, name, "")
	case n == 10 && l[8] == "upgradeprofiles" && l[9] == "default" && is(http.MethodGet):
		return c.clusterUpgradeProfile(tx, key, rg, name)
	case n == 9 && l[8] == "availableagentpoolversions" && is(http.MethodGet):
		return c.availablePoolVersions(tx, key, rg, name)
	case n == 9 && l[8] == "agentpools" && is(http.MethodGet):
		return c.listPools(tx, key, rg, name)
	case n == 10 && l[8] == "agentpools":
		pool := cl.segs[9]
		switch method {
		case http.MethodGet:
			return c.getPool(tx, key, rg, name, pool)
		case http.MethodPut:
			return c.putPool(tx, cl, key, rg, name, pool)
		case http.MethodDelete:
			return c.deletePool(tx, cl, key, pool)
		}
		return methodNotAllowed(cl), nil
	case n == 12 && l[8] == "agentpools" && l[10] == "upgradeprofiles" && l[11] == "default" && is(http.MethodGet):
		return c.poolUpgradeProfile(tx, key, rg, name, cl.segs[9])
	case n == 11 && l[8] == "agentpools" && l[10] == "upgradenodeimageversion" && is(http.MethodPost):
		return c.upgradeNodeImage(tx, cl, key, rg, name, cl.segs[9])
	case n == 11 && l[8] == "agentpools" && l[10] == "abort" && is(http.MethodPost):
		return c.abort(tx, cl, key, rg, name, cl.segs[9])
	}
	return notFoundPath(cl), nil
}

func notFoundPath(cl *call) *reply {
	if len(cl.low) >= 6 && cl.low[4] == "providers" && cl.low[5] == "microsoft.containerservice" ||
		len(cl.low) >= 4 && cl.low[2] == "providers" && cl.low[3] == "microsoft.containerservice" {
		return errReply(errorf(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.ContainerService' for the path '%s'.", cl.path))
	}
	return errReply(errorf(http.StatusNotFound, "NotFound", "The requested resource '%s' was not found.", cl.path))
}

func methodNotAllowed(cl *call) *reply {
	return errReply(errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested method %s is not allowed on '%s'.", cl.r.Method, cl.path))
}

func clusterNotFound(rg, name string) *reply {
	return errReply(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", name, rg))
}

func poolNotFound(rg, name, pool string) *reply {
	return errReply(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s/agentPools/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", name, pool, rg))
}

func parentNotFound(rg, name string) *reply {
	return errReply(errorf(http.StatusNotFound, "ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", name))
}

// checkETag applies If-Match and If-None-Match. current is "" when the resource is absent.
func checkETag(r *http.Request, exists bool, current string) *apiError {
	if m := r.Header.Get("If-Match"); m != "" {
		if !exists {
			return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "The resource does not exist, so If-Match '%s' cannot be satisfied.", m)
		}
		if m != "*" && strings.Trim(m, `"`) != current {
			return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "Operation failed because the resource's eTag '%s' does not match the If-Match header '%s': the resource was changed since it was read.", current, m)
		}
	}
	if m := r.Header.Get("If-None-Match"); m == "*" && exists {
		return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "Operation failed because the resource already exists and If-None-Match is '*'.")
	}
	return nil
}

// busy returns the 409 for a cluster that has an operation running.
func busy(tx *bolt.Tx, rec *clusterRec) (*apiError, error) {
	if rec.ActiveOp == "" {
		return nil, nil
	}
	op, err := loadOp(tx, rec.ActiveOp)
	if err != nil {
		return nil, err
	}
	state := "Updating"
	if op != nil {
		state = op.State
	}
	return busyError(state), nil
}

// startOp records a new running operation on rec and returns the headers that point at it.
func (c *Cloud) startOp(tx *bolt.Tx, cl *call, rec *clusterRec, pool string, kind opKind, state string, d time.Duration) (*opRec, http.Header, error) {
	op := &opRec{
		ID: newUUID(), Sub: rec.Sub, Location: rec.Location, ClusterKey: rec.key(), Pool: pool,
		Path: cl.path, Kind: kind, State: state, Start: cl.now, End: cl.now.Add(d), Status: statusInProgress,
	}
	if kind != opAbort {
		op.Fail = c.takeFailure(cl.path)
		rec.ActiveOp = op.ID
	}
	if err := saveOp(tx, op); err != nil {
		return nil, nil, err
	}
	c.log.Info("simulated operation started", "op", op.ID, "kind", kind, "state", state, "cluster", rec.Name, "pool", pool, "duration", d)
	h := http.Header{}
	h.Set("Azure-AsyncOperation", cl.base+op.statusURLPath())
	c.setRetryAfter(h)
	return op, h, nil
}

// startSaved starts an operation with startOp and saves rec, which now names it as running.
func (c *Cloud) startSaved(tx *bolt.Tx, cl *call, rec *clusterRec, pool string, kind opKind, state string, d time.Duration) (*opRec, http.Header, error) {
	op, h, err := c.startOp(tx, cl, rec, pool, kind, state, d)
	if err != nil {
		return nil, nil, err
	}
	if err := saveCluster(tx, rec); err != nil {
		return nil, nil, err
	}
	return op, h, nil
}

// startAccepted is startSaved for an operation answered with 202: the headers it returns
// also carry Location, the operation's result URL.
func (c *Cloud) startAccepted(tx *bolt.Tx, cl *call, rec *clusterRec, pool string, kind opKind, state string, d time.Duration) (http.Header, error) {
	op, h, err := c.startSaved(tx, cl, rec, pool, kind, state, d)
	if err != nil {
		return nil, err
	}
	h.Set("Location", cl.base+op.resultURLPath())
	return h, nil
}

func (c *Cloud) operationStatus(tx *bolt.Tx, cl *call, id string) (*reply, error) {
	op, err := loadOp(tx, id)
	if err != nil {
		return nil, err
	}
	if op == nil || !strings.EqualFold(op.Sub, cl.segs[1]) {
		return errReply(errorf(http.StatusNotFound, "NotFound", "Operation %s was not found.", id)), nil
	}
	body := map[string]any{
		"id":        op.statusURLPath(),
		"name":      op.ID,
		"status":    op.Status,
		"startTime": op.Start.UTC().Format(time.RFC3339Nano),
	}
	h := http.Header{}
	if op.Status == statusInProgress {
		c.setRetryAfter(h)
	} else {
		body["endTime"] = op.End.UTC().Format(time.RFC3339Nano)
		if op.Error != nil {
			body["error"] = op.Error
		}
	}
	return &reply{status: http.StatusOK, header: h, body: body}, nil
}

func (c *Cloud) operationResult(tx *bolt.Tx, cl *call, id string) (*reply, error) {
	op, err := loadOp(tx, id)
	if err != nil {
		return nil, err
	}
	if op == nil || !strings.EqualFold(op.Sub, cl.segs[1]) {
		return errReply(errorf(http.StatusNotFound, "NotFound", "Operation %s was not found.", id)), nil
	}
	switch op.Status {
	case statusInProgress:
		h := http.Header{}
		h.Set("Location", cl.base+op.resultURLPath())
		c.setRetryAfter(h)
		return &reply{status: http.StatusAccepted, header: h}, nil
	case statusSucceeded:
		return &reply{status: http.StatusNoContent}, nil
	}
	e := op.Error
	if e == nil {
		e = &apiError{Code: op.Status, Message: "The operation did not succeed."}
	}
	return errReply(&apiError{Status: http.StatusBadRequest, Code: e.Code, Message: e.Message}), nil
}

// decode unmarshals a request body, answering ARM's error for malformed JSON.
func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
	}
	return nil
}
