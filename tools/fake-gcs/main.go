// Command fake-gcs runs fake-gcs-server (github.com/fsouza/fake-gcs-server, pinned in go.mod) on one
// plain-HTTP port, adding the parts of the GCS XML API that the Rust `object_store` GCS client uses
// and upstream does not serve (fsouza/fake-gcs-server#331, the still-open PRs #1164 and #2092):
//
//   - PUT /BUCKET/OBJECT: simple upload, honouring x-goog-if-generation-match (0 = create only),
//     answering with the ETag and x-goog-generation headers object_store requires;
//   - PUT /BUCKET/OBJECT with x-goog-copy-source: server-side copy;
//   - XML multipart uploads: POST ?uploads, PUT ?partNumber&uploadId, POST ?uploadId, DELETE ?uploadId;
//   - XML listing GET /BUCKET with start-after, max-keys and continuation-token (upstream ignores them
//     and returns everything).
//
// Every other request (JSON API, uploads, downloads, XML GET/HEAD/DELETE/list) goes to upstream's
// handler unchanged. XML paths are recognised only for requests whose Host header equals
// -public-host (as upstream does), so clients must use that exact host:port.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to bind to")
	port := flag.Uint("port", 4443, "port to bind to")
	publicHost := flag.String("public-host", "", "Host header of XML API requests (default HOST:PORT)")
	externalURL := flag.String("external-url", "", "base URL in selfLink/mediaLink and upload Location headers (default http://HOST:PORT)")
	root := flag.String("filesystem-root", "", "directory of the filesystem backend (objects survive restarts); empty: in-memory backend")
	logRequests := flag.Bool("log-requests", false, "log every request (upstream's access log) to stderr")
	flag.Parse()

	addr := net.JoinHostPort(*host, strconv.FormatUint(uint64(*port), 10))
	if *publicHost == "" {
		*publicHost = addr
	}
	if *externalURL == "" {
		*externalURL = "http://" + addr
	}
	opts := fakestorage.Options{
		StorageRoot: *root,
		Scheme:      "http",
		Host:        *host,
		Port:        uint16(*port),
		PublicHost:  *publicHost,
		ExternalURL: strings.TrimRight(*externalURL, "/"),
		NoListener:  true,
	}
	if *logRequests {
		opts.Writer = os.Stderr
	}
	srv, err := fakestorage.NewServerWithOptions(opts)
	if err != nil {
		log.Fatalf("fake-gcs: %v", err)
	}
	api := &xmlAPI{srv: srv, next: srv.HTTPHandler(), publicHost: *publicHost, uploads: map[string]*upload{}}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("fake-gcs: %v", err)
	}
	httpServer := &http.Server{Handler: api, ReadHeaderTimeout: 30 * time.Second}
	backend := "memory"
	if *root != "" {
		backend = "filesystem " + *root
	}
	log.Printf("fake-gcs: serving http://%s (public host %s, external URL %s, backend %s)", addr, *publicHost, *externalURL, backend)

	// On SIGTERM/SIGINT finish the requests in flight (so no write is cut half-way), then exit.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = httpServer.Shutdown(ctx)
	}()
	if err := httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("fake-gcs: %v", err)
	}
	log.Printf("fake-gcs: stopped")
}

type upload struct {
	bucket, object string
	attrs          fakestorage.ObjectAttrs
	parts          map[int][]byte // part number -> content
}

type xmlAPI struct {
	srv        *fakestorage.Server
	next       http.Handler
	publicHost string

	// mu serialises XML writes, so that a generation precondition is checked and the object written
	// atomically (the fakestorage API takes no preconditions), and guards uploads.
	mu      sync.Mutex
	uploads map[string]*upload
}

// Paths of upstream's own APIs, never XML object paths.
var reservedPrefixes = []string{"/storage/v1/", "/upload/", "/download/", "/batch/", "/_internal/"}

// objectPath returns the bucket and object of an XML API request (Host = public host, path
// /BUCKET/OBJECT with percent-encoding undone).
func (x *xmlAPI) objectPath(r *http.Request) (bucket, object string, ok bool) {
	if !x.hostMatches(r.Host) {
		return "", "", false
	}
	p := r.URL.EscapedPath()
	for _, prefix := range reservedPrefixes {
		if strings.HasPrefix(p, prefix) {
			return "", "", false
		}
	}
	b, o, found := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !found || b == "" || o == "" {
		return "", "", false
	}
	bucket, err1 := url.PathUnescape(b)
	object, err2 := url.PathUnescape(o)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return bucket, object, true
}

// hostMatches mirrors upstream's publicHostMatcher.
func (x *xmlAPI) hostMatches(h string) bool {
	if strings.Contains(x.publicHost, ":") || !strings.Contains(h, ":") {
		return h == x.publicHost
	}
	name, _, _ := strings.Cut(h, ":")
	return name == x.publicHost
}

// bucketPath returns the bucket of an XML API bucket request (path /BUCKET or /BUCKET/).
func (x *xmlAPI) bucketPath(r *http.Request) (string, bool) {
	if !x.hostMatches(r.Host) {
		return "", false
	}
	b := strings.TrimSuffix(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if b == "" || strings.Contains(b, "/") || strings.HasPrefix(b, "_") {
		return "", false
	}
	bucket, err := url.PathUnescape(b)
	return bucket, err == nil
}

func (x *xmlAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if bucket, ok := x.bucketPath(r); ok && r.Method == http.MethodGet {
		x.listObjects(w, r, bucket)
		return
	}
	if bucket, object, ok := x.objectPath(r); ok {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPut && q.Has("uploadId") && q.Has("partNumber"):
			x.putPart(w, r, q.Get("uploadId"), q.Get("partNumber"))
			return
		case r.Method == http.MethodPut && !q.Has("uploadType") && !q.Has("upload_id") && !q.Has("X-Goog-Algorithm"):
			if src := r.Header.Get("X-Goog-Copy-Source"); src != "" {
				x.copyObject(w, r, bucket, object, src)
			} else {
				x.putObject(w, r, bucket, object)
			}
			return
		case r.Method == http.MethodPost && q.Has("uploads"):
			x.initiateUpload(w, r, bucket, object)
			return
		case r.Method == http.MethodPost && q.Has("uploadId"):
			x.completeUpload(w, r, bucket, object, q.Get("uploadId"))
			return
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			x.abortUpload(w, q.Get("uploadId"))
			return
		}
	}
	x.next.ServeHTTP(w, r)
}

func xmlError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>%s</Message></Error>", code, xmlEscape(message))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// attrsFromHeaders takes the object metadata that an XML upload carries in headers.
func attrsFromHeaders(bucket, object string, h http.Header) fakestorage.ObjectAttrs {
	meta := map[string]string{}
	for k := range h {
		lk := strings.ToLower(k)
		if name, found := strings.CutPrefix(lk, "x-goog-meta-"); found {
			meta[name] = h.Get(k)
		}
	}
	if len(meta) == 0 {
		meta = nil
	}
	return fakestorage.ObjectAttrs{
		BucketName:         bucket,
		Name:               object,
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Metadata:           meta,
	}
}

// store writes the object after checking the bucket and the x-goog-if-generation-match
// precondition of h; it answers the error itself and returns ok=false on failure. Call with x.mu held.
func (x *xmlAPI) store(w http.ResponseWriter, h http.Header, attrs fakestorage.ObjectAttrs, content []byte) (fakestorage.ObjectAttrs, bool) {
	if _, err := x.srv.Backend().GetBucket(attrs.BucketName); err != nil {
		xmlError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
		return attrs, false
	}
	if cond := h.Get("X-Goog-If-Generation-Match"); cond != "" {
		want, err := strconv.ParseInt(cond, 10, 64)
		if err != nil {
			xmlError(w, http.StatusBadRequest, "InvalidArgument", "invalid x-goog-if-generation-match")
			return attrs, false
		}
		var current int64
		if obj, err := x.srv.GetObjectStreaming(attrs.BucketName, attrs.Name); err == nil {
			current = obj.Generation
			obj.Close()
		}
		if current != want {
			xmlError(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
			return attrs, false
		}
	}
	if err := x.srv.CreateObjectStreaming(fakestorage.Object{ObjectAttrs: attrs, Content: content}.StreamingObject()); err != nil {
		xmlError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return attrs, false
	}
	stored, err := x.srv.GetObjectStreaming(attrs.BucketName, attrs.Name)
	if err != nil {
		xmlError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return attrs, false
	}
	stored.Close()
	w.Header().Set("ETag", strconv.Quote(stored.Etag))
	w.Header().Set("X-Goog-Generation", strconv.FormatInt(stored.Generation, 10))
	w.Header().Set("X-Goog-Metageneration", "1")
	w.Header().Set("X-Goog-Hash", "crc32c="+stored.Crc32c+",md5="+stored.Md5Hash)
	return stored.ObjectAttrs, true
}

func (x *xmlAPI) putObject(w http.ResponseWriter, r *http.Request, bucket, object string) {
	content, err := io.ReadAll(r.Body)
	if err != nil {
		xmlError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.store(w, r.Header, attrsFromHeaders(bucket, object, r.Header), content); ok {
		w.WriteHeader(http.StatusOK)
	}
}

func (x *xmlAPI) copyObject(w http.ResponseWriter, r *http.Request, bucket, object, source string) {
	sb, so, found := strings.Cut(strings.TrimPrefix(source, "/"), "/")
	srcBucket, err1 := url.PathUnescape(sb)
	srcObject, err2 := url.PathUnescape(so)
	if !found || err1 != nil || err2 != nil || srcObject == "" {
		xmlError(w, http.StatusBadRequest, "InvalidArgument", "invalid x-goog-copy-source")
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	src, err := x.srv.GetObject(srcBucket, srcObject)
	if err != nil {
		xmlError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	attrs := src.ObjectAttrs
	attrs.BucketName, attrs.Name = bucket, object
	attrs.Generation, attrs.Etag, attrs.Md5Hash, attrs.Crc32c = 0, "", "", ""
	attrs.Created, attrs.Updated = time.Time{}, time.Time{}
	stored, ok := x.store(w, r.Header, attrs, src.Content)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><CopyObjectResult><LastModified>%s</LastModified><ETag>%s</ETag></CopyObjectResult>",
		stored.Updated.UTC().Format(time.RFC3339Nano), xmlEscape(strconv.Quote(stored.Etag)))
}

func (x *xmlAPI) initiateUpload(w http.ResponseWriter, r *http.Request, bucket, object string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, err := x.srv.Backend().GetBucket(bucket); err != nil {
		xmlError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
		return
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	uploadID := hex.EncodeToString(id[:])
	x.uploads[uploadID] = &upload{bucket: bucket, object: object, attrs: attrsFromHeaders(bucket, object, r.Header), parts: map[int][]byte{}}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>",
		xmlEscape(bucket), xmlEscape(object), uploadID)
}

func partETag(content []byte) string {
	sum := md5.Sum(content)
	return strconv.Quote(hex.EncodeToString(sum[:]))
}

func (x *xmlAPI) putPart(w http.ResponseWriter, r *http.Request, uploadID, partNumber string) {
	n, err := strconv.Atoi(partNumber)
	if err != nil || n < 1 || n > 10000 {
		xmlError(w, http.StatusBadRequest, "InvalidArgument", "invalid partNumber")
		return
	}
	content, err := io.ReadAll(r.Body)
	if err != nil {
		xmlError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	up := x.uploads[uploadID]
	if up == nil {
		xmlError(w, http.StatusNotFound, "NoSuchUpload", "The requested upload was not found.")
		return
	}
	up.parts[n] = content
	w.Header().Set("ETag", partETag(content))
	w.WriteHeader(http.StatusOK)
}

type completeRequest struct {
	Parts []struct {
		PartNumber int
		ETag       string
	} `xml:"Part"`
}

func (x *xmlAPI) completeUpload(w http.ResponseWriter, r *http.Request, bucket, object, uploadID string) {
	var req completeRequest
	if err := xml.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Parts) == 0 {
		xmlError(w, http.StatusBadRequest, "MalformedXML", "invalid CompleteMultipartUpload body")
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	up := x.uploads[uploadID]
	if up == nil || up.bucket != bucket || up.object != object {
		xmlError(w, http.StatusNotFound, "NoSuchUpload", "The requested upload was not found.")
		return
	}
	if !sort.SliceIsSorted(req.Parts, func(i, j int) bool { return req.Parts[i].PartNumber < req.Parts[j].PartNumber }) {
		xmlError(w, http.StatusBadRequest, "InvalidPartOrder", "parts must be listed in ascending order")
		return
	}
	var content bytes.Buffer
	for _, p := range req.Parts {
		data, ok := up.parts[p.PartNumber]
		if !ok || strings.Trim(p.ETag, `"`) != strings.Trim(partETag(data), `"`) {
			xmlError(w, http.StatusBadRequest, "InvalidPart", fmt.Sprintf("part %d was not uploaded or its ETag differs", p.PartNumber))
			return
		}
		content.Write(data)
	}
	stored, ok := x.store(w, r.Header, up.attrs, content.Bytes())
	if !ok {
		return
	}
	delete(x.uploads, uploadID)
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag></CompleteMultipartUploadResult>",
		xmlEscape(bucket), xmlEscape(object), xmlEscape(strconv.Quote(stored.Etag)))
}

func (x *xmlAPI) abortUpload(w http.ResponseWriter, uploadID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.uploads[uploadID]; !ok {
		xmlError(w, http.StatusNotFound, "NoSuchUpload", "The requested upload was not found.")
		return
	}
	delete(x.uploads, uploadID)
	w.WriteHeader(http.StatusNoContent)
}

type listContents struct {
	Key            string
	Generation     int64
	MetaGeneration int64
	LastModified   string
	ETag           string
	Size           int64
}

type listResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	Contents              []listContents
	CommonPrefixes        []struct{ Prefix string }
}

// listObjects answers an XML list (V2, and V1's marker), paginated in key order: objects and common
// prefixes together, at most max-keys (default and limit 1000) after start-after/continuation-token.
func (x *xmlAPI) listObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	if _, err := x.srv.Backend().GetBucket(bucket); err != nil {
		xmlError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
		return
	}
	maxKeys := 1000
	if m := q.Get("max-keys"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			xmlError(w, http.StatusBadRequest, "InvalidArgument", "invalid max-keys")
			return
		}
		maxKeys = min(n, 1000)
	}
	after := max(q.Get("start-after"), q.Get("continuation-token"), q.Get("marker"))
	objects, prefixes, err := x.srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter")})
	if err != nil {
		xmlError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	type entry struct {
		key string
		obj *fakestorage.ObjectAttrs
	}
	entries := make([]entry, 0, len(objects)+len(prefixes))
	for i := range objects {
		entries = append(entries, entry{objects[i].Name, &objects[i]})
	}
	for _, p := range prefixes {
		entries = append(entries, entry{p, nil})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })

	res := listResult{
		Name: bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), StartAfter: q.Get("start-after"),
		ContinuationToken: q.Get("continuation-token"), MaxKeys: maxKeys,
	}
	for _, e := range entries {
		if e.key <= after {
			continue
		}
		if res.KeyCount == maxKeys {
			res.IsTruncated = true
			break
		}
		res.KeyCount++
		res.NextContinuationToken = e.key
		if e.obj == nil {
			res.CommonPrefixes = append(res.CommonPrefixes, struct{ Prefix string }{e.key})
			continue
		}
		res.Contents = append(res.Contents, listContents{
			Key: e.obj.Name, Generation: e.obj.Generation, MetaGeneration: 1,
			LastModified: e.obj.Updated.UTC().Format(time.RFC3339Nano), ETag: strconv.Quote(e.obj.Etag), Size: e.obj.Size,
		})
	}
	if !res.IsTruncated {
		res.NextContinuationToken = ""
	}
	body, err := xml.Marshal(res)
	if err != nil {
		xmlError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(body)
}
