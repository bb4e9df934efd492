package database

// Classify exposes classify to the package's external tests, which need the
// apptest harness (and so cannot live inside the package).
var Classify = classify
