// Command gojudge renders Go templates with the real text/template, as confd does, for confpy's
// differential test (tests/support/godiff.py). It reads one JSON request a line on stdin,
//
//	{"name": "t.tmpl", "text": "...", "data": <any JSON>, "store": {"/k": "v"}}
//
// and answers each with one JSON line {"ok": bool, "out": base64, "err": base64, "panic": "..."}:
// the output bytes (Go strings are bytes, so base64), or the error text as err.Error() gives it.
// "store" is optional and replaces the store for this and later requests.
//
// The function map is confd's (resource/template/template_funcs.go, newFuncMap, plus memkv's
// store functions), re-implemented here from the behaviour confd documents; the network lookups
// are left out (no test resolves names) and datetime is time.Now as in confd. fork.go adds the
// maintained fork's functions that are standard-library calls.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gojudge/memkv"
)

type request struct {
	Name  string             `json:"name"`
	Text  string             `json:"text"`
	Data  interface{}        `json:"data"`
	Store *map[string]string `json:"store"`
}

type answer struct {
	OK    bool   `json:"ok"`
	Out   []byte `json:"out"`
	Err   []byte `json:"err"`
	Panic string `json:"panic,omitempty"`
}

func seq(first, last int) []int {
	var out []int
	for i := first; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

func reverse(values interface{}) interface{} {
	switch v := values.(type) {
	case []string:
		for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
			v[i], v[j] = v[j], v[i]
		}
	case []memkv.KVPair:
		for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
			v[i], v[j] = v[j], v[i]
		}
	}
	return values
}

func sortByLength(values []string) []string {
	sort.Sort(byLen(values))
	return values
}

type byLen []string

func (s byLen) Len() int           { return len(s) }
func (s byLen) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byLen) Less(i, j int) bool { return len(s[i]) < len(s[j]) }

func sortKVByLength(values []memkv.KVPair) []memkv.KVPair {
	sort.Sort(kvByLen(values))
	return values
}

type kvByLen []memkv.KVPair

func (s kvByLen) Len() int           { return len(s) }
func (s kvByLen) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s kvByLen) Less(i, j int) bool { return len(s[i].Key) < len(s[j].Key) }

func getenv(key string, fallback ...string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	if len(fallback) > 0 {
		return fallback[0]
	}
	return ""
}

func createMap(values ...interface{}) (map[string]interface{}, error) {
	if len(values)%2 != 0 {
		return nil, errors.New("invalid map call")
	}
	out := make(map[string]interface{}, len(values)/2)
	for i := 0; i < len(values); i += 2 {
		key, ok := values[i].(string)
		if !ok {
			return nil, errors.New("map keys must be strings")
		}
		out[key] = values[i+1]
	}
	return out, nil
}

func jsonObject(data string) (map[string]interface{}, error) {
	var out map[string]interface{}
	err := json.Unmarshal([]byte(data), &out)
	return out, err
}

func jsonArray(data string) ([]interface{}, error) {
	var out []interface{}
	err := json.Unmarshal([]byte(data), &out)
	return out, err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func b64encode(data string) string { return base64.StdEncoding.EncodeToString([]byte(data)) }

func b64decode(data string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(data)
	return string(b), err
}

func noLookup(string) []string { return nil }

func funcMap(store memkv.Store) template.FuncMap {
	m := template.FuncMap{
		"base": path.Base, "split": strings.Split, "json": jsonObject, "jsonArray": jsonArray,
		"dir": path.Dir, "map": createMap, "getenv": getenv, "join": strings.Join,
		"datetime": time.Now, "toUpper": strings.ToUpper, "toLower": strings.ToLower,
		"contains": strings.Contains, "replace": strings.Replace, "trimSuffix": strings.TrimSuffix,
		"lookupIP": noLookup, "lookupIPV4": noLookup, "lookupIPV6": noLookup,
		"lookupSRV":  func(service, proto, name string) []*net.SRV { return []*net.SRV{} },
		"fileExists": fileExists, "base64Encode": b64encode, "base64Decode": b64decode,
		"parseBool": strconv.ParseBool, "reverse": reverse, "sortByLength": sortByLength,
		"sortKVByLength": sortKVByLength,
		"add":            func(a, b int) int { return a + b },
		"sub":            func(a, b int) int { return a - b },
		"div":            func(a, b int) int { return a / b },
		"mod":            func(a, b int) int { return a % b },
		"mul":            func(a, b int) int { return a * b },
		"seq":            seq, "atoi": strconv.Atoi,
	}
	for name, fn := range forkFuncs() {
		m[name] = fn
	}
	for name, fn := range store.Funcs() {
		m[name] = fn
	}
	return m
}

func render(req request, funcs template.FuncMap) (ans answer) {
	defer func() {
		if r := recover(); r != nil {
			ans = answer{Panic: fmt.Sprint(r)}
		}
	}()
	tmpl, err := template.New(req.Name).Funcs(funcs).Parse(req.Text)
	if err != nil {
		return answer{Err: []byte(err.Error())}
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, req.Data); err != nil {
		return answer{Err: []byte(err.Error()), Out: out.Bytes()}
	}
	return answer{OK: true, Out: out.Bytes()}
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := json.NewEncoder(os.Stdout)
	store := memkv.Store{}
	funcs := funcMap(store)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				fmt.Fprintln(os.Stderr, "gojudge: bad request:", jerr)
				os.Exit(2)
			}
			if req.Store != nil {
				store = memkv.Store{}
				for k, v := range *req.Store {
					store[k] = memkv.KVPair{Key: k, Value: v}
				}
				funcs = funcMap(store)
			}
			if oerr := out.Encode(render(req, funcs)); oerr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			return
		}
	}
}
