// Package memkv is the judge's stand-in for github.com/kelseyhightower/memkv: the store confd's
// templates read through get/gets/getv/getvs/exists/ls/lsdir. Written from the behaviour memkv
// documents (store.go, kvpair.go); the package and type names are memkv's so that printf "%T"
// prints memkv.KVPair and memkv.KVPairs as confd does.
package memkv

import (
	"errors"
	"path"
	"sort"
	"strings"
)

// KVPair is one key and its value.
type KVPair struct {
	Key   string
	Value string
}

// KVPairs is what gets returns (a named slice type: confd's reverse leaves it unchanged).
type KVPairs []KVPair

// KVPairs is a sort.Interface (kvpair.go), so templates can call .Len, .Less and .Swap on it.
func (ks KVPairs) Len() int           { return len(ks) }
func (ks KVPairs) Less(i, j int) bool { return ks[i].Key < ks[j].Key }
func (ks KVPairs) Swap(i, j int)      { ks[i], ks[j] = ks[j], ks[i] }

// ErrNotExist is the reason get/getv give for a missing key.
var ErrNotExist = errors.New("key does not exist")

// KeyError names the key an operation failed on.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Err.Error() + ": " + e.Key }

// Store maps keys to pairs.
type Store map[string]KVPair

// Funcs are the store's template functions under confd's names.
func (s Store) Funcs() map[string]interface{} {
	return map[string]interface{}{
		"exists": s.Exists, "ls": s.List, "lsdir": s.ListDir, "get": s.Get,
		"gets": s.GetAll, "getv": s.GetValue, "getvs": s.GetAllValues,
	}
}

func (s Store) Exists(key string) bool {
	_, ok := s[key]
	return ok
}

func (s Store) Get(key string) (KVPair, error) {
	kv, ok := s[key]
	if !ok {
		return kv, &KeyError{key, ErrNotExist}
	}
	return kv, nil
}

func (s Store) GetValue(key string, v ...string) (string, error) {
	kv, err := s.Get(key)
	if err == nil {
		return kv.Value, nil
	}
	if len(v) > 0 {
		return v[0], nil
	}
	return "", err
}

func (s Store) GetAll(pattern string) (KVPairs, error) {
	out := KVPairs{}
	for _, key := range s.sortedKeys() {
		ok, err := path.Match(pattern, key)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s[key])
		}
	}
	return out, nil
}

func (s Store) GetAllValues(pattern string) ([]string, error) {
	pairs, err := s.GetAll(pattern)
	values := []string{}
	if err != nil {
		return values, err
	}
	for _, kv := range pairs {
		values = append(values, kv.Value)
	}
	sort.Strings(values)
	return values, nil
}

// List names the entries directly below dir (or dir's own base name when dir is a key).
func (s Store) List(dir string) []string {
	seen := map[string]bool{}
	want := terms(dir)
	for key := range s {
		if key == dir {
			seen[path.Base(key)] = true
		} else if hasTerms(terms(path.Dir(key)), want) {
			rest := strings.TrimPrefix(strings.TrimPrefix(key, dir), "/")
			seen[strings.SplitN(rest, "/", 2)[0]] = true
		}
	}
	return sortedSet(seen)
}

// ListDir names the directories directly below dir.
func (s Store) ListDir(dir string) []string {
	seen := map[string]bool{}
	want := terms(dir)
	for key := range s {
		if !strings.HasPrefix(key, dir) {
			continue
		}
		parent := terms(path.Dir(key))
		if hasTerms(parent, want) && len(parent) > len(want) {
			seen[parent[len(want)]] = true
		}
	}
	return sortedSet(seen)
}

func (s Store) sortedKeys() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func terms(p string) []string { return strings.Split(path.Clean(p), "/") }

func hasTerms(have, prefix []string) bool {
	if len(have) < len(prefix) {
		return false
	}
	for i, t := range prefix {
		if have[i] != t {
			return false
		}
	}
	return true
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
