package discovery

import (
	"strings"

	"github.com/munnerz/goautoneg"
)

// encoding is a wire format discovery documents are served in.
type encoding int

const (
	encJSON encoding = iota
	encYAML
	encProtobuf
	numEncodings
)

var mediaTypes = [numEncodings]string{
	encJSON:     "application/json",
	encYAML:     "application/yaml",
	encProtobuf: "application/vnd.kubernetes.protobuf",
}

// Aggregated discovery is asked for with media type parameters naming the
// kind to return: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList.
const (
	aggregatedGroup = "apidiscovery.k8s.io"
	aggregatedKind  = "APIGroupDiscoveryList"
	aggregatedV2    = "v2"
	// v2beta1 is still what kubectl and client-go up to 1.29 understand;
	// they list it after v2 in their Accept header.
	aggregatedV2Beta1 = "v2beta1"
)

// choice is the outcome of content negotiation: the wire format and, for
// aggregated discovery, the apidiscovery version ("" for the plain
// document).
type choice struct {
	enc        encoding
	aggregated string
}

func (c choice) contentType() string {
	if c.aggregated == "" {
		return mediaTypes[c.enc]
	}
	return mediaTypes[c.enc] + ";g=" + aggregatedGroup + ";v=" + c.aggregated + ";as=" + aggregatedKind
}

// negotiate picks the first Accept clause, in the client's order of
// preference, that the endpoint can serve, as the API server's negotiation
// does: clauses asking for a kind other than aggregated discovery, or for
// aggregated discovery where there is none, are passed over; parameters it
// does not know (profile, charset) are ignored.
func negotiate(accept string, aggregatedAllowed bool) (choice, bool) {
	if strings.TrimSpace(accept) == "" {
		return choice{enc: encJSON}, true
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Q == 0 {
			continue
		}
		enc, ok := encodingFor(clause.Type, clause.SubType)
		if !ok {
			continue
		}
		g, v, as := clause.Params["g"], clause.Params["v"], clause.Params["as"]
		if g == "" && v == "" && as == "" {
			return choice{enc: enc}, true
		}
		if !aggregatedAllowed || g != aggregatedGroup || as != aggregatedKind {
			continue
		}
		if v == aggregatedV2 || v == aggregatedV2Beta1 {
			return choice{enc: enc, aggregated: v}, true
		}
	}
	return choice{}, false
}

func encodingFor(typ, subtype string) (encoding, bool) {
	switch {
	case typ == "*" && subtype == "*", typ == "application" && subtype == "*":
		return encJSON, true
	case typ != "application":
		return 0, false
	}
	for enc, mt := range mediaTypes {
		if mt == typ+"/"+subtype {
			return encoding(enc), true
		}
	}
	return 0, false
}
