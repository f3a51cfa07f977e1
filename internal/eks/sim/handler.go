package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Handler returns the sim's HTTP API. Routes are those of the eks client's operations
// (aws-sdk-go-v2/service/eks schemas): ListClusters, DescribeCluster, ListNodegroups,
// DescribeNodegroup, CreateNodegroup, UpdateNodegroupConfig, UpdateNodegroupVersion,
// DeleteNodegroup and DescribeUpdate; and STS's GetCallerIdentity (POST / in the query
// protocol), so one address serves AWS_ENDPOINT_URL_EKS and AWS_ENDPOINT_URL_STS.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, op string, h func(*call)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, restJSON, op, h) })
	}
	route("GET /clusters", "ListClusters", s.listClusters)
	route("GET /clusters/{name}", "DescribeCluster", s.describeCluster)
	route("GET /clusters/{name}/node-groups", "ListNodegroups", s.listNodegroups)
	route("POST /clusters/{name}/node-groups", "CreateNodegroup", s.createNodegroup)
	route("GET /clusters/{name}/node-groups/{ng}", "DescribeNodegroup", s.describeNodegroup)
	route("DELETE /clusters/{name}/node-groups/{ng}", "DeleteNodegroup", s.deleteNodegroup)
	route("POST /clusters/{name}/node-groups/{ng}/update-config", "UpdateNodegroupConfig", s.updateConfig)
	route("POST /clusters/{name}/node-groups/{ng}/update-version", "UpdateNodegroupVersion", s.updateVersion)
	route("GET /clusters/{name}/updates/{id}", "DescribeUpdate", s.describeUpdate)
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, awsQuery, "", s.sts) })
	return mux
}

// call is one request being answered; handlers run with s.mu held.
type call struct {
	r      *http.Request
	region string
	body   []byte
	form   url.Values // the body of a query-protocol request
	rec    *Request
	status int
	out    any
	// err is an AWS error: status, code (EKS's __type) and message.
	errCode string
	errMsg  string
	extra   map[string]string // clusterName, nodegroupName of the error body
}

func (c *call) fail(status int, code, format string, args ...any) {
	c.status, c.errCode, c.errMsg = status, code, fmt.Sprintf(format, args...)
}

func (c *call) ok(v any) { c.status, c.out = http.StatusOK, v }

// protocol is how a service frames requests and answers: EKS's REST-JSON, STS's query
// protocol (a form in, XML out).
type protocol struct {
	// The errors of an unsigned and of a throttled request.
	unsigned, throttled          string
	unsignedStatus, throttleStat int
	write                        func(http.ResponseWriter, *call)
}

var (
	restJSON = protocol{unsigned: "UnrecognizedClientException", unsignedStatus: http.StatusForbidden,
		throttled: "ThrottlingException", throttleStat: http.StatusTooManyRequests, write: writeJSON}
	awsQuery = protocol{unsigned: "InvalidClientTokenId", unsignedStatus: http.StatusForbidden,
		throttled: "Throttling", throttleStat: http.StatusBadRequest, write: writeXML}
)

// credentialScope matches the region in "Credential=AKID/20261204/eu-west-1/eks/aws4_request"
// (or .../sts/aws4_request).
var credentialScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/(?:eks|sts)/aws4_request`)

// serve answers one request: op names the operation, or is "" for the query protocol, whose
// body names it (Action).
func (s *Sim) serve(w http.ResponseWriter, r *http.Request, p protocol, op string, h func(*call)) {
	c := &call{r: r, rec: &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Operation: op,
		Attempt: r.Header.Get("Amz-Sdk-Request")}}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.region = m[1]
	}
	c.rec.Region = c.region
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	c.body = body
	if op == "" && err == nil {
		c.form, err = url.ParseQuery(string(body))
		c.rec.Operation = c.form.Get("Action")
	}

	s.mu.Lock()
	c.rec.At = s.now()
	c.rec.ID = fmt.Sprintf("sim-%06d", len(s.requests)+1)
	switch {
	case err != nil:
		c.fail(http.StatusBadRequest, "BadRequestException", "cannot read the request body")
	case s.throttle > 0:
		s.throttle--
		c.fail(p.throttleStat, p.throttled, "Rate exceeded")
	case c.region == "":
		c.fail(p.unsignedStatus, p.unsigned, "The security token included in the request is invalid.")
	default:
		s.settle()
		h(c)
	}
	c.rec.Status, c.rec.Code = c.status, c.errCode
	s.requests = append(s.requests, *c.rec)
	s.mu.Unlock()

	s.log.Debug("EKS sim", "op", c.rec.Operation, "region", c.region, "path", r.URL.Path, "status", c.status, "code", c.errCode)
	w.Header().Set("X-Amzn-Requestid", c.rec.ID)
	p.write(w, c)
}

func writeJSON(w http.ResponseWriter, c *call) {
	w.Header().Set("Content-Type", "application/json")
	if c.errCode != "" {
		w.Header().Set("X-Amzn-Errortype", c.errCode)
		doc := map[string]string{"__type": c.errCode, "message": c.errMsg}
		for k, v := range c.extra {
			doc[k] = v
		}
		w.WriteHeader(c.status)
		_ = json.NewEncoder(w).Encode(doc)
		return
	}
	w.WriteHeader(c.status)
	_ = json.NewEncoder(w).Encode(c.out)
}

// cluster finds the path's cluster or answers ResourceNotFoundException.
func (s *Sim) cluster(c *call) *cluster {
	name := c.r.PathValue("name")
	cl := s.clusters[c.region+"/"+name]
	if cl == nil {
		c.fail(http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: %s.", name)
		c.extra = map[string]string{"clusterName": name}
	}
	return cl
}

func (s *Sim) nodegroup(c *call, cl *cluster) *nodegroup {
	name := c.r.PathValue("ng")
	ng := cl.nodegroups[name]
	if ng == nil {
		c.fail(http.StatusNotFound, "ResourceNotFoundException", "No node group found for name: %s.", name)
		c.extra = map[string]string{"clusterName": cl.name, "nodegroupName": name}
	}
	return ng
}

// page applies maxResults and nextToken (an offset here; opaque to clients).
func page(c *call, names []string) ([]string, *string) {
	sort.Strings(names)
	start := 0
	if t := c.r.URL.Query().Get("nextToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(names) {
			c.fail(http.StatusBadRequest, "InvalidParameterException", "The nextToken is invalid.")
			return nil, nil
		}
		start = n
	}
	size := 100
	if m := c.r.URL.Query().Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 100 {
			c.fail(http.StatusBadRequest, "InvalidParameterException", "maxResults must be between 1 and 100.")
			return nil, nil
		}
		size = n
	}
	end := min(start+size, len(names))
	var next *string
	if end < len(names) {
		t := strconv.Itoa(end)
		next = &t
	}
	return names[start:end], next
}

func (s *Sim) listClusters(c *call) {
	var names []string
	for _, cl := range s.clusters {
		if cl.region == c.region {
			names = append(names, cl.name)
		}
	}
	got, next := page(c, names)
	if c.errCode == "" {
		c.ok(map[string]any{"clusters": nonNil(got), "nextToken": next})
	}
}

func (s *Sim) describeCluster(c *call) {
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	c.ok(map[string]any{"cluster": map[string]any{
		"name": cl.name, "arn": cl.arn(), "version": cl.version, "endpoint": cl.endpoint(),
		"status": cl.status, "platformVersion": cl.platform, "createdAt": epoch(cl.created),
		"roleArn":            fmt.Sprintf("arn:aws:iam::%s:role/eks-cluster-%s", cl.account, cl.name),
		"resourcesVpcConfig": map[string]any{"vpcId": "vpc-0f1e2d3c", "subnetIds": []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"}, "endpointPublicAccess": true},
		"tags":               map[string]string{"team": "platform"},
	}})
}

func (s *Sim) listNodegroups(c *call) {
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	names := make([]string, 0, len(cl.nodegroups))
	for n := range cl.nodegroups {
		names = append(names, n)
	}
	got, next := page(c, names)
	if c.errCode == "" {
		c.ok(map[string]any{"nodegroups": nonNil(got), "nextToken": next})
	}
}

func (s *Sim) describeNodegroup(c *call) {
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	if ng := s.nodegroup(c, cl); ng != nil {
		c.ok(map[string]any{"nodegroup": renderNodegroup(cl, ng)})
	}
}

func renderNodegroup(cl *cluster, ng *nodegroup) map[string]any {
	doc := map[string]any{
		"nodegroupName": ng.name, "clusterName": cl.name,
		"nodegroupArn": fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s/%s", cl.region, cl.account, cl.name, ng.name, "0ac6f1e2"),
		"version":      ng.version, "releaseVersion": ng.release, "status": ng.status,
		"capacityType": ng.capacity, "amiType": ng.ami, "nodeRole": ng.role,
		"instanceTypes": nonNil(ng.instanceTypes), "subnets": nonNil(ng.subnets),
		"scalingConfig": map[string]int32{"minSize": ng.min, "maxSize": ng.max, "desiredSize": ng.desired},
		"createdAt":     epoch(ng.created), "modifiedAt": epoch(ng.modified),
		"health":       map[string]any{"issues": nonNilIssues(ng.issues)},
		"updateConfig": map[string]int{"maxUnavailable": 1},
		"resources":    map[string]any{"autoScalingGroups": []map[string]string{{"name": "eks-" + ng.name + "-asg"}}},
	}
	if len(ng.labels) > 0 {
		doc["labels"] = ng.labels
	}
	if len(ng.taints) > 0 {
		doc["taints"] = ng.taints
	}
	return doc
}

func renderUpdate(u *update) map[string]any {
	return map[string]any{"update": map[string]any{
		"id": u.id, "status": u.status, "type": u.typ, "createdAt": epoch(u.created),
		"params": u.params, "errors": nonNilErrors(u.errors),
	}}
}

func (s *Sim) describeUpdate(c *call) {
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	id := c.r.PathValue("id")
	u := cl.updates[id]
	if u == nil || (c.r.URL.Query().Get("nodegroupName") != "" && u.nodegroup != c.r.URL.Query().Get("nodegroupName")) {
		c.fail(http.StatusNotFound, "ResourceNotFoundException", "No update found for ID: %s.", id)
		return
	}
	c.ok(renderUpdate(u))
}

type scalingConfig struct {
	MinSize     *int32 `json:"minSize"`
	MaxSize     *int32 `json:"maxSize"`
	DesiredSize *int32 `json:"desiredSize"`
}

// replay answers a mutation whose token was used before: the same request gets the earlier
// answer; another request with that token is refused, as EKS does.
func (s *Sim) replay(c *call, cl *cluster, token, hash string, answer func(ref string) any) bool {
	c.rec.Token = token
	if token == "" {
		return false
	}
	ref, seen := cl.tokens[token]
	if !seen {
		return false
	}
	if u := cl.updates[ref]; u != nil && u.hash != hash {
		c.fail(http.StatusBadRequest, "InvalidRequestException", "The client request token %s was already used for a different request.", token)
		return true
	}
	c.rec.Replay = true
	c.ok(answer(ref))
	return true
}

func requestHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

func (s *Sim) updateConfig(c *call) {
	var in struct {
		ClientRequestToken string         `json:"clientRequestToken"`
		ScalingConfig      *scalingConfig `json:"scalingConfig"`
		Labels             *struct {
			AddOrUpdateLabels map[string]string `json:"addOrUpdateLabels"`
			RemoveLabels      []string          `json:"removeLabels"`
		} `json:"labels"`
		Taints *struct {
			AddOrUpdateTaints []taint `json:"addOrUpdateTaints"`
			RemoveTaints      []taint `json:"removeTaints"`
		} `json:"taints"`
	}
	if !decode(c, &in) {
		return
	}
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	hash := requestHash("config", c.r.PathValue("ng"), string(c.body))
	if s.replay(c, cl, in.ClientRequestToken, hash, func(ref string) any { return renderUpdate(cl.updates[ref]) }) {
		return
	}
	ng := s.nodegroup(c, cl)
	if ng == nil {
		return
	}
	if in.ScalingConfig == nil && in.Labels == nil && in.Taints == nil {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "No changes needed")
		return
	}
	if why := busyWith(cl, ng); why != "" {
		c.fail(http.StatusConflict, "ResourceInUseException", "%s", why)
		c.extra = map[string]string{"clusterName": cl.name, "nodegroupName": ng.name}
		return
	}
	minSize, maxSize, desired := ng.min, ng.max, ng.desired
	var params []param
	if sc := in.ScalingConfig; sc != nil {
		if sc.MinSize != nil {
			minSize = *sc.MinSize
			params = append(params, param{"MinSize", strconv.Itoa(int(minSize))})
		}
		if sc.MaxSize != nil {
			maxSize = *sc.MaxSize
			params = append(params, param{"MaxSize", strconv.Itoa(int(maxSize))})
		}
		if sc.DesiredSize != nil {
			desired = *sc.DesiredSize
			params = append(params, param{"DesiredSize", strconv.Itoa(int(desired))})
		}
		if msg := checkScaling(minSize, desired, maxSize); msg != "" {
			c.fail(http.StatusBadRequest, "InvalidParameterException", "%s", msg)
			return
		}
	}
	if in.Labels != nil {
		if len(in.Labels.AddOrUpdateLabels) > 0 {
			b, _ := json.Marshal(in.Labels.AddOrUpdateLabels)
			params = append(params, param{"LabelsToAdd", string(b)})
		}
		if len(in.Labels.RemoveLabels) > 0 {
			b, _ := json.Marshal(in.Labels.RemoveLabels)
			params = append(params, param{"LabelsToRemove", string(b)})
		}
	}
	if in.Taints != nil {
		if len(in.Taints.AddOrUpdateTaints) > 0 {
			b, _ := json.Marshal(in.Taints.AddOrUpdateTaints)
			params = append(params, param{"TaintsToAdd", string(b)})
		}
		if len(in.Taints.RemoveTaints) > 0 {
			b, _ := json.Marshal(in.Taints.RemoveTaints)
			params = append(params, param{"TaintsToRemove", string(b)})
		}
	}
	u := s.startUpdate(cl, ng, "ConfigUpdate", in.ClientRequestToken, hash, params, s.durations.Config)
	if q := s.quota[cl.region]; q > 0 && desired > ng.desired && int(desired) > q && u.fail == nil {
		u.fail = quotaFailure(ng.name)
	}
	u.apply = func(ng *nodegroup) {
		ng.min, ng.max, ng.desired = minSize, maxSize, desired
		if in.Labels != nil {
			if ng.labels == nil {
				ng.labels = map[string]string{}
			}
			for k, v := range in.Labels.AddOrUpdateLabels {
				ng.labels[k] = v
			}
			for _, k := range in.Labels.RemoveLabels {
				delete(ng.labels, k)
			}
		}
		if in.Taints != nil {
			keep := ng.taints[:0:0]
			for _, t := range ng.taints {
				removed := false
				for _, r := range append(in.Taints.RemoveTaints, in.Taints.AddOrUpdateTaints...) {
					if r.Key == t.Key && r.Effect == t.Effect {
						removed = true
					}
				}
				if !removed {
					keep = append(keep, t)
				}
			}
			ng.taints = append(keep, in.Taints.AddOrUpdateTaints...)
		}
	}
	c.ok(renderUpdate(u))
}

func checkScaling(minSize, desired, maxSize int32) string {
	switch {
	case minSize < 0:
		return "Minimum capacity must be at least 0"
	case maxSize < 1:
		return "Maximum capacity must be at least 1"
	case minSize > maxSize:
		return fmt.Sprintf("Minimum capacity %d can't be greater than maximum capacity %d", minSize, maxSize)
	case desired < minSize:
		return fmt.Sprintf("Desired capacity %d can't be lower than minimum capacity %d", desired, minSize)
	case desired > maxSize:
		return fmt.Sprintf("Desired capacity %d can't be greater than maximum capacity %d", desired, maxSize)
	}
	return ""
}

func (s *Sim) startUpdate(cl *cluster, ng *nodegroup, typ, token, hash string, params []param, d time.Duration) *update {
	now := s.now()
	u := &update{id: s.nextID(), typ: typ, status: "InProgress", nodegroup: ng.name, token: token, hash: hash,
		params: params, created: now, until: now.Add(s.scaled(d))}
	u.fail = s.failureFor(cl, ng.name, typ)
	cl.updates[u.id] = u
	if token != "" {
		cl.tokens[token] = u.id
	}
	ng.status = "UPDATING"
	ng.modified = now
	s.changes++
	return u
}

func (s *Sim) updateVersion(c *call) {
	var in struct {
		ClientRequestToken string  `json:"clientRequestToken"`
		Version            *string `json:"version"`
		ReleaseVersion     *string `json:"releaseVersion"`
		Force              bool    `json:"force"`
	}
	if !decode(c, &in) {
		return
	}
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	hash := requestHash("version", c.r.PathValue("ng"), string(c.body))
	if s.replay(c, cl, in.ClientRequestToken, hash, func(ref string) any { return renderUpdate(cl.updates[ref]) }) {
		return
	}
	ng := s.nodegroup(c, cl)
	if ng == nil {
		return
	}
	if why := busyWith(cl, ng); why != "" {
		c.fail(http.StatusConflict, "ResourceInUseException", "%s", why)
		c.extra = map[string]string{"clusterName": cl.name, "nodegroupName": ng.name}
		return
	}
	version, release := cl.version, ""
	if in.Version != nil {
		version = *in.Version
	}
	if in.ReleaseVersion != nil {
		release = *in.ReleaseVersion
		if !strings.HasPrefix(release, version+".") {
			c.fail(http.StatusBadRequest, "InvalidParameterException", "Requested release version %s is not valid for Kubernetes version %s.", release, version)
			return
		}
	}
	if cmpMinor(version, cl.version) > 0 {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "Requested Nodegroup version %s is newer than the cluster version %s.", version, cl.version)
		return
	}
	if cmpMinor(version, ng.version) < 0 {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "Requested Nodegroup version %s is older than the current version %s; downgrades are not supported.", version, ng.version)
		return
	}
	if release == "" {
		release = version + ".9-20251120" // the latest AMI release for that version
	}
	if version == ng.version && release == ng.release {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "Nodegroup %s is already at version %s (%s).", ng.name, version, release)
		return
	}
	params := []param{{"Version", version}, {"ReleaseVersion", release}}
	u := s.startUpdate(cl, ng, "VersionUpdate", in.ClientRequestToken, hash, params, s.durations.Version)
	u.apply = func(ng *nodegroup) { ng.version, ng.release = version, release }
	c.ok(renderUpdate(u))
}

func (s *Sim) createNodegroup(c *call) {
	var in struct {
		ClientRequestToken string            `json:"clientRequestToken"`
		NodegroupName      string            `json:"nodegroupName"`
		ScalingConfig      *scalingConfig    `json:"scalingConfig"`
		Subnets            []string          `json:"subnets"`
		NodeRole           string            `json:"nodeRole"`
		InstanceTypes      []string          `json:"instanceTypes"`
		CapacityType       string            `json:"capacityType"`
		AmiType            string            `json:"amiType"`
		Labels             map[string]string `json:"labels"`
		Taints             []taint           `json:"taints"`
		Version            string            `json:"version"`
		ReleaseVersion     string            `json:"releaseVersion"`
	}
	if !decode(c, &in) {
		return
	}
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	c.rec.Token = in.ClientRequestToken
	if ref, seen := cl.tokens[in.ClientRequestToken]; seen && in.ClientRequestToken != "" {
		ng := cl.nodegroups[strings.TrimPrefix(ref, "ng:")]
		if ref != "ng:"+in.NodegroupName || ng == nil {
			c.fail(http.StatusBadRequest, "InvalidRequestException", "The client request token %s was already used for a different request.", in.ClientRequestToken)
			return
		}
		c.rec.Replay = true
		c.ok(map[string]any{"nodegroup": renderNodegroup(cl, ng)})
		return
	}
	switch {
	case in.NodegroupName == "":
		c.fail(http.StatusBadRequest, "InvalidParameterException", "nodegroupName is required")
		return
	case in.NodeRole == "":
		c.fail(http.StatusBadRequest, "InvalidParameterException", "nodeRole is required")
		return
	case len(in.Subnets) == 0:
		c.fail(http.StatusBadRequest, "InvalidParameterException", "subnets are required")
		return
	}
	if cl.nodegroups[in.NodegroupName] != nil {
		c.fail(http.StatusConflict, "ResourceInUseException", "NodeGroup already exists with name %s and cluster name %s", in.NodegroupName, cl.name)
		c.extra = map[string]string{"clusterName": cl.name, "nodegroupName": in.NodegroupName}
		return
	}
	minSize, desired, maxSize := int32(1), int32(2), int32(2) // EKS's defaults
	if sc := in.ScalingConfig; sc != nil {
		if sc.MinSize != nil {
			minSize = *sc.MinSize
		}
		if sc.MaxSize != nil {
			maxSize = *sc.MaxSize
		}
		if sc.DesiredSize != nil {
			desired = *sc.DesiredSize
		}
	}
	if msg := checkScaling(minSize, desired, maxSize); msg != "" {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "%s", msg)
		return
	}
	version := in.Version
	if version == "" {
		version = cl.version
	}
	if cmpMinor(version, cl.version) > 0 {
		c.fail(http.StatusBadRequest, "InvalidParameterException", "Requested Nodegroup version %s is newer than the cluster version %s.", version, cl.version)
		return
	}
	release := in.ReleaseVersion
	if release == "" {
		release = version + ".9-20251120"
	}
	now := s.now()
	ng := &nodegroup{name: in.NodegroupName, status: "CREATING", version: version, release: release,
		capacity: or(in.CapacityType, "ON_DEMAND"), role: in.NodeRole, ami: or(in.AmiType, "AL2023_x86_64_STANDARD"),
		min: minSize, max: maxSize, desired: desired, instanceTypes: in.InstanceTypes, subnets: in.Subnets,
		labels: in.Labels, taints: in.Taints, created: now, modified: now, until: now.Add(s.scaled(s.durations.Create))}
	if len(ng.instanceTypes) == 0 {
		ng.instanceTypes = []string{"t3.medium"}
	}
	ng.failCreate = s.failureFor(cl, ng.name, "Create")
	if q := s.quota[cl.region]; q > 0 && int(desired) > q && ng.failCreate == nil {
		ng.failCreate = quotaFailure(ng.name)
	}
	cl.nodegroups[ng.name] = ng
	if in.ClientRequestToken != "" {
		cl.tokens[in.ClientRequestToken] = "ng:" + ng.name
	}
	s.changes++
	c.ok(map[string]any{"nodegroup": renderNodegroup(cl, ng)})
}

func (s *Sim) deleteNodegroup(c *call) {
	cl := s.cluster(c)
	if cl == nil {
		return
	}
	ng := s.nodegroup(c, cl)
	if ng == nil {
		return
	}
	if why := busyWith(cl, ng); why != "" && ng.status != "CREATE_FAILED" && ng.status != "DELETE_FAILED" {
		c.fail(http.StatusConflict, "ResourceInUseException", "%s", why)
		c.extra = map[string]string{"clusterName": cl.name, "nodegroupName": ng.name}
		return
	}
	now := s.now()
	ng.status, ng.modified, ng.until = "DELETING", now, now.Add(s.scaled(s.durations.Delete))
	s.changes++
	c.ok(map[string]any{"nodegroup": renderNodegroup(cl, ng)})
}

func decode(c *call, v any) bool {
	if len(c.body) == 0 {
		return true
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(http.StatusBadRequest, "SerializationException", "cannot parse the request body: %v", err)
		return false
	}
	return true
}

// cmpMinor compares "1.31" style versions by their minor number (same major assumed).
func cmpMinor(a, b string) int {
	minor := func(v string) int {
		parts := strings.Split(v, ".")
		if len(parts) < 2 {
			return -1
		}
		n, _ := strconv.Atoi(parts[1])
		return n
	}
	return minor(a) - minor(b)
}

// epoch is the EKS wire form of a timestamp: seconds since 1970, with a fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilIssues(s []issue) []issue {
	if s == nil {
		return []issue{}
	}
	return s
}

func nonNilErrors(s []updateError) []updateError {
	if s == nil {
		return []updateError{}
	}
	return s
}
