package httpapi

import (
	"strings"
	"testing"
)

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url  string
		want error // nil for accepted
	}{
		{"https://acme.atlassian.net", nil},
		{"https://jira.example-hospital.org/jira", nil},
		{"https://api.trello.com/1/", nil},
		{"http://127.0.0.1:9", nil},
		{"http://127.8.9.10:8080", nil},
		{"http://[::1]:8080", nil},
		{"http://localhost:8080", nil},
		{"http://example.org", ErrBaseURLPlainHTTP},
		{"http://10.0.0.5:8080", ErrBaseURLPlainHTTP},
		{"http://localhost.example.org", ErrBaseURLPlainHTTP},
		{"ftp://example.org", ErrBaseURLScheme},
		{"https://user:pass@example.org", ErrBaseURLCredentials},
		{"https://example.org/?token=abc", ErrBaseURLQuery},
		{"https://example.org/#x", ErrBaseURLQuery},
		{"example.org", ErrBaseURLNotAbsolute},
		{"", ErrBaseURLNotAbsolute},
		{"https://", ErrBaseURLNotAbsolute},
		{"mailto:pmo@example.org", ErrBaseURLNotAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckBaseURL(tt.url)
			if err != tt.want {
				t.Fatalf("CheckBaseURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "pass") || strings.Contains(err.Error(), "abc")) {
				t.Errorf("error shows part of the URL: %v", err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "[::1]": true,
		"": false, "0.0.0.0": false, "10.0.0.1": false, "localhost.example.org": false, "example.org": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
