package chstore

import (
	"errors"
	"regexp"
	"strconv"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// permanentError marks a failure that no retry can fix: the data or the SQL
// is wrong, not the connection.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent wraps err so that IsPermanent reports true; nil stays nil.
func permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (or an error it wraps) can never succeed
// on retry, such as rows the database cannot parse. Connection failures,
// timeouts and overload are not permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// permanentCodes are ClickHouse error codes caused by the statement or its
// data rather than by the server's state.
var permanentCodes = map[int]bool{
	6:   true, // CANNOT_PARSE_TEXT
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	26:  true, // CANNOT_PARSE_QUOTED_STRING
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	32:  true, // ATTEMPT_TO_READ_AFTER_EOF
	33:  true, // CANNOT_READ_ALL_DATA
	36:  true, // BAD_ARGUMENTS
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	43:  true, // ILLEGAL_TYPE_OF_ARGUMENT
	44:  true, // ILLEGAL_COLUMN
	47:  true, // UNKNOWN_IDENTIFIER
	53:  true, // TYPE_MISMATCH
	62:  true, // SYNTAX_ERROR
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	72:  true, // CANNOT_PARSE_NUMBER
	117: true, // INCORRECT_DATA
	130: true, // CANNOT_READ_ARRAY_FROM_TEXT
	131: true, // TOO_LARGE_STRING_SIZE
	184: true, // ILLEGAL_AGGREGATION
	215: true, // NOT_AN_AGGREGATE
	352: true, // AMBIGUOUS_COLUMN_NAME
}

var codePattern = regexp.MustCompile(`^Code: (\d+)\.`)

// exceptionCode extracts the ClickHouse error code from a server exception
// or from an embedded engine message ("Code: 62. DB::Exception: ...").
func exceptionCode(err error) (int, bool) {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return int(ex.Code), true
	}
	m := codePattern.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, convErr := strconv.Atoi(m[1])
	return n, convErr == nil
}

// classify marks err permanent when its ClickHouse code says the statement
// or the data is at fault; everything else stays retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if code, ok := exceptionCode(err); ok && permanentCodes[code] {
		return permanent(err)
	}
	return err
}
