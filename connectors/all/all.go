// Package all registers every connector. Import it for its side effects:
//
//	import _ "github.com/pmsync/pmsync/connectors/all"
package all

import (
	_ "github.com/pmsync/pmsync/connectors/asana"      // kind "asana"
	_ "github.com/pmsync/pmsync/connectors/jira"       // kind "jira"
	_ "github.com/pmsync/pmsync/connectors/smartsheet" // kind "smartsheet"
	_ "github.com/pmsync/pmsync/connectors/trello"     // kind "trello"
)
