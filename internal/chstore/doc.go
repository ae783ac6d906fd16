// Package chstore stores AgentPulse events in ClickHouse and computes the
// analytics answers from them in SQL.
//
// The same SQL runs on the embedded engine (chDB, in this process, the
// default) and on a ClickHouse server reached with the native protocol.
// Open applies the numbered migrations of migrations/ and shares one engine
// among the components of a process that name the same storage, which the
// embedded engine requires: it holds one data directory per process.
//
// Any package that imports this one loads libchdb.so when the program
// starts; set CHDB_LIB_PATH to its location (scripts/chdb-lib.sh prints it).
package chstore
