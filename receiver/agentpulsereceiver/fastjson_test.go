package agentpulsereceiver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowEvents decodes a body as decodeBatch's slow path does: the
// envelope with encoding/json, then each event with UseNumber.
func slowEvents(body []byte) ([]any, bool) {
	var envelope struct {
		Events *[]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil || envelope.Events == nil {
		return nil, false
	}
	out := make([]any, len(*envelope.Events))
	for i, raw := range *envelope.Events {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// checkAgainstEncodingJSON fails when the fast path accepts a body that
// encoding/json would decode differently, or would refuse.
func checkAgainstEncodingJSON(t *testing.T, body []byte) (accepted bool) {
	t.Helper()
	fast, ok := parseBatch(body)
	if !ok {
		return false
	}
	slow, slowOK := slowEvents(body)
	require.True(t, slowOK, "the fast path accepted a body encoding/json refuses: %q", body)
	require.Equal(t, slow, fast, "decoded differently: %q", body)
	return true
}

func TestParseBatchMatchesEncodingJSON(t *testing.T) {
	accepted := []string{
		`{"events":[]}`,
		` { "events" : [ ] } `,
		"\t{\"events\":[{}]}\r\n",
		`{"events":[` + validLLM + `]}`,
		`{"other":{"events":1},"events":[1,"x",null,true,false,[],{"a":[{"b":{}}]}]}`,
		`{"events":[{"n":[0,-0,12,-3.25,1e3,1E+3,2.5e-7,123456789012345678901234567890]}]}`,
		`{"events":[{"s":"plain","e":"q\"b\\s\/n\nr\rt\tb\bf\f","u":"\u00e9\u65e5\uD83D\uDE00"}]}`,
		`{"events":[{"lone":"\ud800","low":"\udc00x","pair_bad":"\ud800\u0041","two_high":"\ud800\ud800\udc00"}]}`,
		"{\"events\":[{\"bad_utf8\":\"a\xff\xfeb\",\"surrogate_utf8\":\"\xed\xa0\x80\",\"ok\":\"é🙂\"}]}",
		`{"events":[{"dup":1,"dup":2}],"events":[{"last":true}]}`,
		`{"events":[{"k\u0000ey":"v","é":"\u0000"}]}`,
	}
	for _, body := range accepted {
		assert.True(t, checkAgainstEncodingJSON(t, []byte(body)), "the fast path should take %q", body)
	}

	// Every other body goes to encoding/json, which explains the problem.
	refused := []string{
		``, `null`, `[]`, `{}`, `{"events":null}`, `{"events":{}}`, `{"events":1}`, `{"Events":[]}`,
		`{"events":[],"EVENTS":[]}`, `{"evts":[]}`, `{"events":[]} x`, `{"events":[],}`, `{"events":[1,]}`,
		`{"events":[01]}`, `{"events":[1.]}`, `{"events":[.5]}`, `{"events":[-]}`, `{"events":[1e]}`, `{"events":[+1]}`,
		`{"events":[tru]}`, `{"events":[nul]}`, `{"events":["a\x"]}`, `{"events":["\u12"]}`, `{"events":["\'"]}`,
		"{\"events\":[\"tab\tinside\"]}", `{"events":["open]}`, `{"events":[{"a" 1}]}`, `{"events":[{1:2}]}`,
		`{"events":[{"a":1,}]}`, `{'events':[]}`, `{"events":[` + strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1) + `]}`,
	}
	for _, body := range refused {
		_, ok := parseBatch([]byte(body))
		assert.False(t, ok, "the fast path should leave %q to encoding/json", body)
	}
}

// TestDecodeBatchSameOnBothPaths checks that a body decodes to the same
// events and rejections whether it takes the fast path or not (an
// unknown key differing from "events" only in case forces the slow one).
func TestDecodeBatchSameOnBothPaths(t *testing.T) {
	batch := `[` + validLLM + `,{"event_id":"x","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u",` +
		`"metadata":{"topic":"t","n":2},"properties":{"content":"hi \ud800 there","input_tokens":"-1"}},5,{"event_id":"y"}]`
	fastBody := []byte(`{"events":` + batch + `}`)
	_, ok := parseBatch(fastBody)
	require.True(t, ok)
	slowBody := []byte(`{"EVENTS":[],"events":` + batch + `}`)
	_, ok = parseBatch(slowBody)
	require.False(t, ok)

	fe, fr, ferr := decodeBatch(fastBody, "my-bot", testNow, testLimits)
	se, sr, serr := decodeBatch(slowBody, "my-bot", testNow, testLimits)
	require.NoError(t, ferr)
	require.NoError(t, serr)
	assert.Equal(t, se, fe)
	assert.Equal(t, sr, fr)
	assert.Len(t, fe, 1)
	assert.Len(t, fr, 3)
}

// FuzzParseBatch compares the fast path with encoding/json on any input.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"events":[` + validLLM + `]}`))
	f.Add([]byte(`{"events":[{"s":"\ud800\udc00\ud800x","n":-0.5e+10,"a":[true,false,null]}]}`))
	f.Add([]byte("{\"events\":[{\"\xff\":\"\xc3\"}]}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstEncodingJSON(t, body)
	})
}
