package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// apiClient speaks the part of the OCI distribution API that pushing and
// looking images up take, to one registry. go-containerregistry's remote
// package does the same, but it links Docker's CLI configuration code
// (for credential helpers, which this registry has no use for) into
// kindish's module graph.
type apiClient struct {
	// base is the registry's URL, "https://127.0.0.1:<port>".
	base string
	hc   *http.Client
}

// manifestTypes are the manifests a lookup accepts: what Push writes, and
// what other clients may have.
var manifestTypes = []types.MediaType{
	types.OCIManifestSchema1, types.OCIImageIndex,
	types.DockerManifestSchema2, types.DockerManifestList,
}

// blobSize returns the size of blob d in repo, and whether it is there.
func (c *apiClient) blobSize(ctx context.Context, repo string, d v1.Hash) (int64, bool, error) {
	resp, err := c.do(ctx, http.MethodHead, c.base+"/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.ContentLength, true, nil
	case http.StatusNotFound:
		return 0, false, nil
	default:
		return 0, false, responseError(resp)
	}
}

// uploadBlob uploads the blob d, read from r, into repo in one request
// after the one that opens the upload, and returns its size. The registry
// checks the digest of what it received.
func (c *apiClient) uploadBlob(ctx context.Context, repo string, d v1.Hash, r io.Reader) (int64, error) {
	resp, err := c.do(ctx, http.MethodPost, c.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, responseError(resp)
	}
	loc, err := resp.Location()
	if err != nil {
		return 0, fmt.Errorf("open upload of %s to %s: %w", d, repo, err)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	counted := &countingReader{r: r}
	resp, err = c.do(ctx, http.MethodPut, loc.String(), counted, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return 0, responseError(resp)
	}
	return counted.n, nil
}

// putManifest stores manifest under tag in repo and returns its digest.
func (c *apiClient) putManifest(ctx context.Context, repo, tag string, mediaType types.MediaType, manifest []byte) (v1.Hash, error) {
	sum := sha256.Sum256(manifest)
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	resp, err := c.do(ctx, http.MethodPut, c.base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(manifest), http.Header{"Content-Type": {string(mediaType)}})
	if err != nil {
		return v1.Hash{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return v1.Hash{}, responseError(resp)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != digest.String() {
		return v1.Hash{}, fmt.Errorf("manifest %s:%s stored as %s, want %s", repo, tag, got, digest)
	}
	return digest, nil
}

// manifestDigest returns the digest of the manifest that ref (a tag or a
// digest) names in repo, and whether there is one.
func (c *apiClient) manifestDigest(ctx context.Context, repo, ref string) (v1.Hash, bool, error) {
	resp, ok, err := c.manifest(ctx, http.MethodHead, repo, ref)
	if err != nil || !ok {
		return v1.Hash{}, false, err
	}
	defer resp.Body.Close()
	d, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return v1.Hash{}, false, fmt.Errorf("HEAD %s: digest header: %w", resp.Request.URL, err)
	}
	return d, true, nil
}

// manifestConfig returns the config digest of the image manifest that ref
// (a tag or a digest) names in repo, and whether there is one.
func (c *apiClient) manifestConfig(ctx context.Context, repo, ref string) (v1.Hash, bool, error) {
	resp, ok, err := c.manifest(ctx, http.MethodGet, repo, ref)
	if err != nil || !ok {
		return v1.Hash{}, false, err
	}
	defer resp.Body.Close()
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&m); err != nil {
		return v1.Hash{}, false, fmt.Errorf("GET %s: %w", redact(resp.Request.URL.String()), err)
	}
	if m.Config.Digest == "" {
		// An index: not an image pushed from the engine.
		return v1.Hash{}, false, nil
	}
	d, err := v1.NewHash(m.Config.Digest)
	if err != nil {
		return v1.Hash{}, false, fmt.Errorf("GET %s: config digest: %w", redact(resp.Request.URL.String()), err)
	}
	return d, true, nil
}

// manifest asks for the manifest that ref names in repo, accepting every
// manifest type; it returns the response of an image that is there, whose
// body the caller closes, and false for one that is not.
func (c *apiClient) manifest(ctx context.Context, method, repo, ref string) (*http.Response, bool, error) {
	accept := make([]string, len(manifestTypes))
	for i, t := range manifestTypes {
		accept[i] = string(t)
	}
	resp, err := c.do(ctx, method, c.base+"/v2/"+repo+"/manifests/"+ref, nil, http.Header{"Accept": {strings.Join(accept, ", ")}})
	if err != nil {
		return nil, false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp, true, nil
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, false, nil
	default:
		defer resp.Body.Close()
		return nil, false, responseError(resp)
	}
}

func (c *apiClient) do(ctx context.Context, method, u string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "kindish")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	return resp, nil
}

// responseError describes a failed answer: the request, the status, and
// the registry's own error messages.
func responseError(resp *http.Response) error {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var msgs []string
	if json.Unmarshal(b, &body) == nil {
		for _, e := range body.Errors {
			msgs = append(msgs, e.Code+": "+e.Message)
		}
	}
	detail := strings.Join(msgs, "; ")
	if detail == "" && resp.Request.Method != http.MethodHead {
		detail = strings.TrimSpace(string(b))
	}
	err := fmt.Errorf("%s %s: %s", resp.Request.Method, redact(resp.Request.URL.String()), resp.Status)
	if detail != "" {
		err = fmt.Errorf("%w: %s", err, detail)
	}
	return err
}

// redact drops the query of an upload URL: it carries the upload's state,
// signed by the registry, which has no place in an error message.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.RawQuery == "" {
		return u
	}
	parsed.RawQuery = ""
	return parsed.String() + "?…"
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sizeString is n bytes in MB, for progress lines.
func sizeString(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB" }
