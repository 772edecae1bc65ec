package config

import "time"

// Default returns a config with every default set; Parse starts from it, and `fedarms dev` uses it
// as is. This is the one place defaults live.
func Default() *Config {
	return &Config{
		Version:      Version,
		Name:         "dev",
		Role:         RoleCentral,
		DataDir:      "./fedarms-data",
		HTTPAddr:     "127.0.0.1:8080",
		Shards:       []string{"*"},
		MaxStaleness: Duration{10 * time.Minute},
		Raft: Raft{
			SnapshotThreshold: 8192,
			TrailingLogs:      10240,
			ApplyBatch:        4000,
		},
		Audit:  Audit{Durability: "sync"},
		Search: Search{HugePages: true},
		Limits: Limits{
			MaxBodyBytes:      1 << 20,
			MaxImportBytes:    4 << 30,
			MaxSearchLimit:    100,
			MinFreeBytes:      256 << 20,
			ReadTimeout:       Duration{30 * time.Second},
			WriteTimeout:      Duration{120 * time.Second},
			IdleTimeout:       Duration{120 * time.Second},
			StreamIdleTimeout: Duration{60 * time.Second},
			MaxHeaderBytes:    64 << 10,
			MaxConns:          1024,
			MaxConnsPerClient: 64,
			SearchesPerHour:   3_000,
			SearchesPerDay:    30_000,
			RecordsPerHour:    10_000,
			RecordsPerDay:     50_000,
		},
		Log: Log{Format: "text", Level: "info"},
		Notify: Notify{Routine: Duration{time.Hour}, Urgent: Duration{10 * time.Minute},
			LateWindow: Duration{72 * time.Hour}, LateMaxSearches: 100000},
		Retention: Retention{Grace: Duration{90 * 24 * time.Hour}},
	}
}
