package metrics

import "github.com/prometheus/client_golang/prometheus"

// databaseUp answers taskflow_database_up by pinging the database when
// Prometheus scrapes, so the value is as fresh as the scrape.
type databaseUp struct {
	ping func() error
	desc *prometheus.Desc
}

func newDatabaseUp(ping func() error) *databaseUp {
	return &databaseUp{ping: ping, desc: prometheus.NewDesc(namespace+"_database_up",
		"1 when the database answered a ping during this scrape, else 0.", nil, nil)}
}

func (d *databaseUp) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *databaseUp) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if d.ping() == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, up)
}
