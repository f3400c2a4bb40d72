// k8s-strict decodes Kubernetes objects into the k8s.io/api types the way an
// API server with strict field validation does: an unknown field, a duplicate
// field or a value of the wrong type is an error. It reads a stream of YAML or
// JSON documents (separated by `---` lines) on stdin and writes one JSON line
// per document on stdout. Objects of API groups that k8s.io/api does not hold
// (Argo CD, Cilium, Cluster API) are reported as `not-built-in`, not passed:
// the caller decides how those are checked.
//
// Input comes on stdin so that Secrets never touch the disk.
//
// Exit status: 0 every built-in object decoded cleanly, 1 at least one did
// not (or a document was unreadable), 2 the input stream itself was unreadable.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

type report struct {
	Index      int    `json:"index"`
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	// ok | invalid | not-built-in
	Result  string `json:"result"`
	Message string `json:"message,omitempty"`
}

func main() {
	if pinnedMinor < 0 {
		fmt.Fprintf(os.Stderr, "k8s-strict: cannot tell which Kubernetes minor k8s.io/api %s is\n", pinnedAPI)
		os.Exit(2)
	}
	// EnableStrict makes the JSON and YAML serializers refuse unknown and
	// duplicate fields (sigs.k8s.io/json strict mode, YAMLToJSONStrict).
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReaderSize(os.Stdin, 1<<20))
	out := json.NewEncoder(os.Stdout)
	failed := false
	for index := 0; ; {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-strict: reading document %d: %v\n", index, err)
			os.Exit(2)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		r := check(decoder, doc)
		r.Index = index
		index++
		if r.Result == "invalid" {
			failed = true
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintf(os.Stderr, "k8s-strict: %v\n", err)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func check(decoder runtime.Decoder, doc []byte) report {
	var r report
	// The identity first, leniently, so that every report names its object.
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := utilyaml.Unmarshal(doc, &head); err != nil {
		r.Result, r.Message = "invalid", err.Error()
		return r
	}
	r.APIVersion, r.Kind, r.Namespace, r.Name = head.APIVersion, head.Kind, head.Metadata.Namespace, head.Metadata.Name
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		r.Result, r.Message = "invalid", err.Error()
		return r
	}
	// A group k8s.io/api holds must decode; a misspelt kind or a version
	// the pinned Kubernetes does not serve is an error, not a custom resource.
	if !scheme.Scheme.IsGroupRegistered(gv.Group) {
		r.Result = "not-built-in"
		return r
	}
	obj, _, err := decoder.Decode(doc, nil, nil)
	if err != nil {
		r.Result, r.Message = "invalid", err.Error()
		return r
	}
	// k8s.io/api keeps the types of versions long gone from the server
	// (apps/v1beta2 and the like); the generated lifecycle says when each
	// was removed, and the pinned minor decides.
	if lifecycle, ok := obj.(interface{ APILifecycleRemoved() (int, int) }); ok {
		major, minor := lifecycle.APILifecycleRemoved()
		if major == 1 && pinnedMinor >= 0 && minor <= pinnedMinor {
			r.Result = "invalid"
			r.Message = fmt.Sprintf("%s %s was removed in Kubernetes 1.%d; the pinned k8s.io/api is %s", head.APIVersion, head.Kind, minor, pinnedAPI)
			return r
		}
	}
	r.Result = "ok"
	return r
}

// pinnedAPI is the k8s.io/api version built in (v0.34.2 is Kubernetes 1.34.2).
var pinnedAPI, pinnedMinor = func() (string, int) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", -1
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/api" {
			parts := strings.Split(strings.TrimPrefix(dep.Version, "v"), ".")
			if len(parts) >= 2 && parts[0] == "0" {
				if minor, err := strconv.Atoi(parts[1]); err == nil {
					return dep.Version, minor
				}
			}
			return dep.Version, -1
		}
	}
	return "unknown", -1
}()
