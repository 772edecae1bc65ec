// Package fedplan lays a federation out on disk as the General Secretariat and the members would
// (root key, member identities, the signed roster, one config per member) and reads a roster file
// back. Tests, scripts/localfed and the drills use it to build federations without the server: it
// imports config and transport, never node.
package fedplan
