package sim

import (
	"encoding/xml"
	"fmt"
	"net/http"
)

// STS answers only GetCallerIdentity, which is what the bot asks (who am I, in which account):
// its doctor and startup can then be tried without AWS.

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// CallerARN is the ARN GetCallerIdentity names: a role session, as with IRSA or Pod Identity.
func (s *Sim) CallerARN() string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/aksbot/aksbot-sim", s.account)
}

type callerIdentity struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	NS      string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (s *Sim) sts(c *call) {
	if action := c.form.Get("Action"); action != "GetCallerIdentity" {
		c.fail(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", action)
		return
	}
	out := callerIdentity{NS: stsNamespace, RequestID: c.rec.ID}
	out.Result.Arn, out.Result.UserID, out.Result.Account = s.CallerARN(), "AROASIMULATEDEXAMPLE:aksbot-sim", s.account
	c.ok(out)
}

type stsError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeXML(w http.ResponseWriter, c *call) {
	w.Header().Set("Content-Type", "text/xml")
	out := c.out
	if c.errCode != "" {
		e := stsError{NS: stsNamespace, RequestID: c.rec.ID}
		e.Error.Type, e.Error.Code, e.Error.Message = "Sender", c.errCode, c.errMsg
		out = e
	}
	w.WriteHeader(c.status)
	_ = xml.NewEncoder(w).Encode(out)
}
