package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/valyala/fastjson"
)

// runFloor is the floor a sync is compared with: it sends the data requests
// the sync sent (same endpoints, queries, field lists and page sizes),
// reads each answer whole and decodes it as the connector does, into
// generic values with encoding/json (a Smartsheet sheet, which its
// connector decodes as it arrives, row by row as it arrives; a Jira search
// answer, which its connector parses with fastjson, parsed alike and
// turned into no Go values at all), and nothing else: no mapping, no storage,
// no retries, no rate limiter. Pagination tokens come from its own previous
// answer, so it walks the same pages as the sync did.
func runFloor(ctx context.Context, j job) (childResult, error) {
	auth := os.Getenv(j.AuthEnv)
	if auth == "" {
		return childResult{}, fmt.Errorf("floor: %s is not set", j.AuthEnv)
	}
	// A private transport like the connectors' own (never the shared
	// default client), with its connection kept alive between pages.
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 5 * time.Minute}
	var res childResult
	var parser fastjson.Parser
	token := ""
	start := time.Now()
	for i, c := range j.Calls {
		req, err := floorRequest(ctx, j, c, token)
		if err != nil {
			return childResult{}, fmt.Errorf("floor request %d (%s %s): %w", i+1, c.Method, c.Path, err)
		}
		if j.Paging == pagingNone {
			// Smartsheet's connector reads a sheet as one answer, decoding
			// it as it arrives; the floor does the same, row by row.
			n, size, err := streamRows(client, req)
			if err != nil {
				return childResult{}, fmt.Errorf("floor request %d (%s %s): %w", i+1, c.Method, c.Path, err)
			}
			res.Requests++
			res.Pages++
			res.Records += n
			res.Bytes += size
			continue
		}
		body, err := fetch(client, req)
		if err != nil {
			return childResult{}, fmt.Errorf("floor request %d (%s %s): %w", i+1, c.Method, c.Path, err)
		}
		if j.Paging == pagingJira {
			// The Jira connector parses a search answer with fastjson and
			// builds Go values only for what its mapping reads; the floor
			// parses it the same way and builds none.
			v, err := parser.ParseBytes(body)
			if err != nil {
				return childResult{}, fmt.Errorf("floor request %d (%s %s): decode answer: %w", i+1, c.Method, c.Path, err)
			}
			res.Requests++
			res.Pages++
			res.Records += len(v.GetArray("issues"))
			res.Bytes += int64(len(body))
			token = string(v.GetStringBytes("nextPageToken"))
			continue
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return childResult{}, fmt.Errorf("floor request %d (%s %s): decode answer: %w", i+1, c.Method, c.Path, err)
		}
		n, next := pageOf(j.Paging, doc)
		res.Requests++
		res.Pages++
		res.Records += n
		res.Bytes += int64(len(body))
		token = next
	}
	res.Wall = time.Since(start)
	return res, nil
}

// floorRequest rebuilds a recorded call, carrying token (the previous
// answer's) where the call carried a pagination token of its own.
func floorRequest(ctx context.Context, j job, c call, token string) (*http.Request, error) {
	query, body := c.Query, c.Body
	switch j.Paging {
	case pagingJira:
		if len(body) > 0 {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				return nil, fmt.Errorf("read recorded body: %w", err)
			}
			if _, ok := m["nextPageToken"]; ok {
				m["nextPageToken"] = token
				b, err := json.Marshal(m)
				if err != nil {
					return nil, fmt.Errorf("write body: %w", err)
				}
				body = b
			}
		}
	case pagingAsana, pagingTrello:
		key := "offset"
		if j.Paging == pagingTrello {
			key = "before"
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("read recorded query: %w", err)
		}
		if q.Has(key) {
			q.Set(key, token)
			query = q.Encode()
		}
	}
	u := j.BaseURL + c.Path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", os.Getenv(j.AuthEnv))
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// fetch sends req and returns the body of a 2xx answer.
func fetch(client *http.Client, req *http.Request) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}

// streamRows sends req and decodes a 2xx answer (an object) as it arrives
// into generic values, the elements of its "rows" array one at a time; it
// returns how many rows there were and the bytes read.
func streamRows(client *http.Client, req *http.Request) (rows int, size int64, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return 0, 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	cr := &countingReader{r: resp.Body}
	dec := json.NewDecoder(cr)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, fmt.Errorf("decode answer: got %v (%v), want an object", tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, fmt.Errorf("decode answer: %w", err)
		}
		if tok != "rows" {
			var v any
			if err := dec.Decode(&v); err != nil {
				return 0, 0, fmt.Errorf("decode answer: %w", err)
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return 0, 0, fmt.Errorf("decode rows: got %v (%v), want an array", tok, err)
		}
		for dec.More() {
			var row any
			if err := dec.Decode(&row); err != nil {
				return 0, 0, fmt.Errorf("decode row %d: %w", rows+1, err)
			}
			rows++
		}
		if _, err := dec.Token(); err != nil {
			return 0, 0, fmt.Errorf("decode rows: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return 0, 0, fmt.Errorf("decode answer: %w", err)
	}
	return rows, cr.n, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// pageOf counts the records of a decoded answer and finds the token of the
// next page, if the vendor pages by token.
func pageOf(p paging, doc any) (records int, next string) {
	if p == pagingTrello {
		cards, _ := doc.([]any)
		for _, c := range cards {
			cm, _ := c.(map[string]any)
			if id, _ := cm["id"].(string); id != "" && (next == "" || id < next) {
				next = id
			}
		}
		return len(cards), next
	}
	m, _ := doc.(map[string]any)
	count := func(key string) int {
		list, _ := m[key].([]any)
		return len(list)
	}
	switch p {
	case pagingJira:
		next, _ = m["nextPageToken"].(string)
		return count("issues"), next
	case pagingAsana:
		if np, ok := m["next_page"].(map[string]any); ok {
			next, _ = np["offset"].(string)
		}
		return count("data"), next
	}
	return count("rows"), ""
}
