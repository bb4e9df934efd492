package app_test

import (
	"testing"

	"taskflow/app/apptest"
)

// TestServerStartsWithWarmConnections: once the server is up, its pool
// holds DB_MIN_IDLE_CONNS open connections before any request came.
func TestServerStartsWithWarmConnections(t *testing.T) {
	s := apptest.Start(t, apptest.Postgres(t), map[string]string{"DB_MIN_IDLE_CONNS": "5"})
	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	if st := sqlDB.Stats(); st.OpenConnections < 5 {
		t.Fatalf("after start-up the pool holds %d connections, want at least DB_MIN_IDLE_CONNS=5", st.OpenConnections)
	}
}
