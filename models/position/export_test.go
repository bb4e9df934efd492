package position

// RandomPair lends the external tests the random neighbours of the
// package's own.
var RandomPair = randomPair
