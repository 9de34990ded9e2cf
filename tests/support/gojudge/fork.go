package main

// The maintained confd fork's (abtreece/confd, pkg/template/utility_funcs.go) functions whose
// semantics are the Go standard library's, written here from those standard calls (no fork
// code): the judge for confpy's toJson, toPrettyJson, fromJson, regexMatch, regexFind,
// regexReplaceAll, trimPrefix, quote, sha256sum, list and dict.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

func marshal(v interface{}, indent bool) (string, error) {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	return string(b), err
}

func unmarshal(s string) (interface{}, error) {
	var v interface{}
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

func compiled(pattern string, use func(*regexp.Regexp) string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", err
	}
	return use(re), nil
}

func forkFuncs() template.FuncMap {
	return template.FuncMap{
		"toJson":       func(v interface{}) (string, error) { return marshal(v, false) },
		"toPrettyJson": func(v interface{}) (string, error) { return marshal(v, true) },
		"fromJson":     unmarshal,
		"regexMatch":   regexp.MatchString,
		"regexFind": func(pattern, s string) (string, error) {
			return compiled(pattern, func(re *regexp.Regexp) string { return re.FindString(s) })
		},
		"regexReplaceAll": func(pattern, s, repl string) (string, error) {
			return compiled(pattern, func(re *regexp.Regexp) string { return re.ReplaceAllString(s, repl) })
		},
		"trimPrefix": strings.TrimPrefix,
		"quote":      strconv.Quote,
		"sha256sum": func(s string) string {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		},
		"list": func(v ...interface{}) []interface{} { return v },
		"dict": createMap,
	}
}
