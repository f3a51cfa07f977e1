// Package sim is a simulated Amazon EKS for tests and demos: an http.Handler that speaks the EKS
// REST-JSON protocol the AWS SDK for Go v2 uses (the routes, JSON shapes and error bodies of the
// eks client's request and response snapshots), so that tests run the real SDK against it over
// HTTP. It knows clusters and managed node groups only, and answers STS GetCallerIdentity with
// Options.Account.
//
// Time is simulated with realistic durations divided by Options.Speed, read from Options.Now, so
// a test can run a 3-minute scale in milliseconds or step a fake clock. A node group with an
// update in progress, or that is not ACTIVE/DEGRADED, refuses other changes with
// ResourceInUseException (409). Mutations are idempotent by clientRequestToken: the same token
// returns the same update (or node group) and starts nothing new. Faults are injectable:
// throttling (429 ThrottlingException), a node quota that makes scale-outs fail, the next change
// of a node group failing (FailNextUpdate), and a rate of changes that fail (Options.FailureRate).
//
// Region is read from the SigV4 credential scope of the Authorization header (one endpoint
// serves every region, as with AWS_ENDPOINT_URL_EKS); the signature is not checked and the header
// is never logged.
package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Durations are how long operations take at Speed 1 (roughly what EKS takes).
type Durations struct {
	Config  time.Duration // UpdateNodegroupConfig (scale, labels, taints)
	Version time.Duration // UpdateNodegroupVersion (rolling node replacement)
	Create  time.Duration // CreateNodegroup
	Delete  time.Duration // DeleteNodegroup
}

// DefaultDurations are typical EKS times for managed node groups.
var DefaultDurations = Durations{
	Config:  3 * time.Minute,
	Version: 20 * time.Minute,
	Create:  5 * time.Minute,
	Delete:  6 * time.Minute,
}

// Options configure a Sim.
type Options struct {
	// Speed divides every duration: 1000 turns a 3-minute scale into 180 ms. 0 means 1.
	Speed float64
	// Durations overrides DefaultDurations (zero fields keep the default).
	Durations Durations
	// Now is the clock; nil means time.Now. Tests step a fake clock for exact control.
	Now func() time.Time
	// Empty starts without the built-in clusters.
	Empty bool
	// FailureRate is the fraction (0 to 1) of accepted changes that fail at their end, as node
	// group changes at times do (instances that do not join, pods that cannot be evicted). The
	// draws come from a generator seeded with Seed, so a run can be repeated.
	FailureRate float64
	Seed        uint64
	// Account is the AWS account ID of the sim's ARNs and of the caller STS GetCallerIdentity
	// names; "" = DefaultAccount.
	Account string
	Logger  *slog.Logger
}

// DefaultAccount is the account of a sim without Options.Account (AWS's documentation example).
const DefaultAccount = "111122223333"

// Request is one HTTP request the sim received, for test assertions.
type Request struct {
	ID        string // the x-amzn-RequestId answered
	At        time.Time
	Method    string
	Path      string
	Query     string
	Region    string
	Operation string // "UpdateNodegroupConfig", ..., "GetCallerIdentity"
	Token     string // clientRequestToken of a mutation, if any
	Attempt   string // the SDK's amz-sdk-request header ("attempt=1; max=3")
	Status    int
	Code      string // the error code answered, if any
	// Replay: a mutation whose token was seen before, answered with the earlier result.
	Replay bool
}

// Mutating reports whether the request asks EKS for a change (not a read, nor STS).
func (r Request) Mutating() bool {
	switch r.Operation {
	case "CreateNodegroup", "UpdateNodegroupConfig", "UpdateNodegroupVersion", "DeleteNodegroup":
		return true
	}
	return false
}

// Sim is a simulated EKS. It is safe for concurrent use.
type Sim struct {
	mu        sync.Mutex
	speed     float64
	durations Durations
	now       func() time.Time
	log       *slog.Logger
	account   string

	clusters map[string]*cluster // by region + "/" + name
	seq      int
	requests []Request
	changes  int                    // mutations that started something
	throttle int                    // the next n requests answer 429
	quota    map[string]int         // region -> most nodes a node group may be asked for
	failNext map[string]updateError // region/cluster/node group -> how its next change fails
	failRate float64
	rand     *rand.Rand
}

// New makes a Sim with two regions' clusters (unless o.Empty), for tests and the console:
//   - eu-west-1: web-prod (Kubernetes 1.31) with ng-web (m6i.large, 1..10, 2 nodes) and
//     ng-batch (c6i.2xlarge spot, 0..20, 3 nodes, 1.30);
//   - us-east-1: data-dev (1.32) with ng-data (t3.large, 1..3, 1 node).
func New(o Options) *Sim {
	s := &Sim{
		speed:     o.Speed,
		durations: DefaultDurations,
		now:       o.Now,
		log:       o.Logger,
		account:   o.Account,
		clusters:  map[string]*cluster{},
		quota:     map[string]int{},
		failNext:  map[string]updateError{},
		failRate:  o.FailureRate,
		rand:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
	}
	if s.speed <= 0 {
		s.speed = 1
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.account == "" {
		s.account = DefaultAccount
	}
	d := o.Durations
	for _, p := range []struct{ dst, src *time.Duration }{
		{&s.durations.Config, &d.Config}, {&s.durations.Version, &d.Version},
		{&s.durations.Create, &d.Create}, {&s.durations.Delete, &d.Delete},
	} {
		if *p.src > 0 {
			*p.dst = *p.src
		}
	}
	if !o.Empty {
		s.seed()
	}
	return s
}

func (s *Sim) seed() {
	created := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	web := s.addCluster("eu-west-1", "web-prod", "1.31")
	web.created = created
	s.addNodegroup(web, &nodegroup{name: "ng-web", min: 1, max: 10, desired: 2, instanceTypes: []string{"m6i.large"},
		capacity: "ON_DEMAND", version: "1.31", release: "1.31.7-20250620", labels: map[string]string{"role": "web"}})
	s.addNodegroup(web, &nodegroup{name: "ng-batch", min: 0, max: 20, desired: 3, instanceTypes: []string{"c6i.2xlarge"},
		capacity: "SPOT", version: "1.30", release: "1.30.11-20250620",
		taints: []taint{{Key: "batch", Value: "true", Effect: "NO_SCHEDULE"}}})
	dev := s.addCluster("us-east-1", "data-dev", "1.32")
	dev.created = created.Add(24 * time.Hour)
	s.addNodegroup(dev, &nodegroup{name: "ng-data", min: 1, max: 3, desired: 1, instanceTypes: []string{"t3.large"},
		capacity: "ON_DEMAND", version: "1.32", release: "1.32.3-20250620"})
}

// AddCluster adds an ACTIVE cluster without node groups.
func (s *Sim) AddCluster(region, name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addCluster(region, name, version)
}

func (s *Sim) addCluster(region, name, version string) *cluster {
	c := &cluster{
		region: region, name: name, version: version, status: "ACTIVE", account: s.account,
		platform: "eks.12", created: s.now().UTC(),
		nodegroups: map[string]*nodegroup{}, updates: map[string]*update{}, tokens: map[string]string{},
	}
	s.clusters[region+"/"+name] = c
	return c
}

// AddNodegroup adds an ACTIVE node group with the given sizes to a cluster; it reports false
// when there is no such cluster.
func (s *Sim) AddNodegroup(region, clusterName, name, instanceType string, min, desired, max int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[region+"/"+clusterName]
	if c == nil {
		return false
	}
	s.addNodegroup(c, &nodegroup{name: name, min: min, max: max, desired: desired, instanceTypes: []string{instanceType},
		capacity: "ON_DEMAND", version: c.version, release: c.version + ".0-20250620"})
	return true
}

func (s *Sim) addNodegroup(c *cluster, ng *nodegroup) {
	ng.status = "ACTIVE"
	if ng.created.IsZero() {
		ng.created = c.created.Add(time.Hour)
	}
	ng.modified = ng.created
	ng.role = fmt.Sprintf("arn:aws:iam::%s:role/eks-node-%s", c.account, c.name)
	ng.subnets = []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"}
	ng.ami = "AL2023_x86_64_STANDARD"
	c.nodegroups[ng.name] = ng
}

// ThrottleNext makes the next n requests answer 429 ThrottlingException.
func (s *Sim) ThrottleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// SetNodeQuota makes scale-outs and creates in region that ask for more than n nodes in one
// node group fail the way an exhausted EC2 instance quota does: the update is accepted, then
// ends Failed (AsgInstanceLaunchFailures) and the node group turns DEGRADED. 0 removes it.
func (s *Sim) SetNodeQuota(region string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.quota, region)
		return
	}
	s.quota[region] = n
}

// ForgetTokens forgets the clientRequestTokens seen so far, as EKS does once a token's
// idempotency window has passed: a request sent again with one is a new request.
func (s *Sim) ForgetTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clusters {
		clear(c.tokens)
	}
}

// Requests returns the requests received so far, oldest first.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Mutations is how many requests started a change (an update, a create, a delete); requests
// refused, throttled or replayed by token do not count.
func (s *Sim) Mutations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

// Nodegroup is a snapshot of a node group for assertions.
type Nodegroup struct {
	Name, Status, Version, ReleaseVersion string
	Min, Desired, Max                     int32
	Labels                                map[string]string
}

// Nodegroup returns the node group's current state, and false when it does not exist (or is gone).
func (s *Sim) Nodegroup(region, clusterName, name string) (Nodegroup, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	c := s.clusters[region+"/"+clusterName]
	if c == nil {
		return Nodegroup{}, false
	}
	ng := c.nodegroups[name]
	if ng == nil {
		return Nodegroup{}, false
	}
	labels := map[string]string{}
	for k, v := range ng.labels {
		labels[k] = v
	}
	return Nodegroup{Name: ng.name, Status: ng.status, Version: ng.version, ReleaseVersion: ng.release,
		Min: ng.min, Desired: ng.desired, Max: ng.max, Labels: labels}, true
}

type cluster struct {
	region, name, version, status, platform, account string
	created                                          time.Time
	nodegroups                                       map[string]*nodegroup
	updates                                          map[string]*update
	tokens                                           map[string]string // clientRequestToken -> update ID, or "ng:" + node group
}

func (c *cluster) arn() string {
	return fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", c.region, c.account, c.name)
}

func (c *cluster) endpoint() string {
	return fmt.Sprintf("https://%X.gr7.%s.eks.amazonaws.com", len(c.name)*0x1F3A+0xA0B1C2, c.region)
}

type taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

type nodegroup struct {
	name, status, version, release, capacity, role, ami string
	min, max, desired                                   int32
	instanceTypes, subnets                              []string
	labels                                              map[string]string
	taints                                              []taint
	created, modified                                   time.Time
	issues                                              []issue
	// until is when the CREATING or DELETING state ends.
	until time.Time
	// failCreate, when set, makes the create end CREATE_FAILED with this issue.
	failCreate *updateError
}

type issue struct {
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

type update struct {
	id, typ, status, nodegroup, token string
	params                            []param
	errors                            []updateError
	created, until                    time.Time
	// apply changes the node group when the update succeeds; fail, when set, makes it fail.
	apply func(ng *nodegroup)
	fail  *updateError
	// hash identifies the request, so a token reused for another request is refused.
	hash string
}

type param struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type updateError struct {
	ErrorCode    string   `json:"errorCode"`
	ErrorMessage string   `json:"errorMessage"`
	ResourceIDs  []string `json:"resourceIds,omitempty"`
}

// scaled is d at the sim's speed.
func (s *Sim) scaled(d time.Duration) time.Duration { return time.Duration(float64(d) / s.speed) }

// settle moves every state whose time has come: updates end, creates and deletes finish.
// It runs on every request, so the sim needs no goroutines. Callers hold s.mu.
func (s *Sim) settle() {
	now := s.now()
	for _, c := range s.clusters {
		ids := make([]string, 0, len(c.updates))
		for id := range c.updates {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			u := c.updates[id]
			if u.status != "InProgress" || now.Before(u.until) {
				continue
			}
			ng := c.nodegroups[u.nodegroup]
			if u.fail != nil {
				u.status = "Failed"
				u.errors = []updateError{*u.fail}
				if ng != nil {
					ng.status = "DEGRADED"
					ng.issues = []issue{{Code: u.fail.ErrorCode, Message: u.fail.ErrorMessage, ResourceIDs: u.fail.ResourceIDs}}
					ng.modified = u.until
				}
				continue
			}
			u.status = "Successful"
			if ng != nil {
				u.apply(ng)
				ng.status = "ACTIVE"
				ng.issues = nil
				ng.modified = u.until
			}
		}
		for name, ng := range c.nodegroups {
			if ng.until.IsZero() || now.Before(ng.until) {
				continue
			}
			switch ng.status {
			case "CREATING":
				ng.until = time.Time{}
				ng.modified = now
				if f := ng.failCreate; f != nil {
					ng.status = "CREATE_FAILED"
					ng.issues = []issue{{Code: f.ErrorCode, Message: f.ErrorMessage, ResourceIDs: f.ResourceIDs}}
				} else {
					ng.status = "ACTIVE"
				}
			case "DELETING":
				delete(c.nodegroups, name)
			}
		}
	}
}

// quotaFailure is how a change fails that asks for more nodes than SetNodeQuota allows.
func quotaFailure(ng string) *updateError {
	return &updateError{ErrorCode: "AsgInstanceLaunchFailures", ErrorMessage: quotaMessage, ResourceIDs: []string{"eks-" + ng + "-asg"}}
}

// FailNextUpdate makes the next change EKS accepts on a node group (an update, or its create)
// fail at its end with code and message: the update ends Failed and the node group DEGRADED, or
// the create ends CREATE_FAILED.
func (s *Sim) FailNextUpdate(region, cluster, nodegroup, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[region+"/"+cluster+"/"+nodegroup] = updateError{ErrorCode: code, ErrorMessage: message,
		ResourceIDs: []string{"eks-" + nodegroup + "-asg"}}
}

// failureFor decides whether a change of type typ just accepted on node group ng fails at its
// end: as FailNextUpdate asked, else drawn at the failure rate. Callers hold s.mu.
func (s *Sim) failureFor(cl *cluster, ng, typ string) *updateError {
	key := cl.region + "/" + cl.name + "/" + ng
	if f, ok := s.failNext[key]; ok {
		delete(s.failNext, key)
		return &f
	}
	if s.failRate <= 0 || s.rand.Float64() >= s.failRate {
		return nil
	}
	asg := []string{"eks-" + ng + "-asg"}
	if typ == "VersionUpdate" {
		return &updateError{ErrorCode: "PodEvictionFailure", ResourceIDs: asg,
			ErrorMessage: "Reached max retries while trying to evict pods from nodes in node group " + ng}
	}
	return &updateError{ErrorCode: "NodeCreationFailure", ErrorMessage: "Instances failed to join the kubernetes cluster", ResourceIDs: asg}
}

const quotaMessage = "Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity " +
	"than your current vCPU limit allows for the instance bucket that the specified instance type belongs to. " +
	"Launching EC2 instance failed."

// busyWith says why ng cannot take a change now, or "".
func busyWith(c *cluster, ng *nodegroup) string {
	for _, u := range c.updates {
		if u.nodegroup == ng.name && u.status == "InProgress" {
			return fmt.Sprintf("Nodegroup %s in cluster %s has update %s in progress", ng.name, c.name, u.id)
		}
	}
	switch ng.status {
	case "ACTIVE", "DEGRADED":
		return ""
	}
	return fmt.Sprintf("Nodegroup %s in cluster %s is currently in %s state", ng.name, c.name, ng.status)
}

func (s *Sim) nextID() string {
	s.seq++
	return fmt.Sprintf("5e1d0c7a-%04x-4%03x-9%03x-%012x", s.seq, s.seq%0x1000, s.seq%0x1000, 0xE45000+s.seq)
}
