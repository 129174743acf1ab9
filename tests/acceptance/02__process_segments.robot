*** Settings ***
Documentation       The production process: its segments, printed and stored in MongoDB.
Resource            fibery_kb.resource
Test Setup          Start in an empty folder
Test Teardown       Clean up


*** Test Cases ***
Process segments are printed in process order
    [Documentation]    Each segment names its predecessor in Fibery. The list follows the
    ...    process from its first step to its last, whatever the segments' numbers; a
    ...    branch (Manual Potting, an old alternative to Potting) comes after the main line.
    [Tags]    fibery    segments
    Given Fibery holds the nursery's process segments
    And Fibery numbers the segments in another order than the process runs
    ...    Dispatch=1    Packing=2    Sorting=3    Growing=4
    ...    Spacing=5    Propagation=6    Potting=7    Manual Potting=8
    When the process segments are printed
    Then they are listed in this order
    ...    Propagation    Potting    Spacing    Growing    Sorting    Packing    Dispatch
    ...    Manual Potting

Storing segments twice changes nothing
    [Documentation]    Storing is idempotent: a second run with nothing changed in Fibery
    ...    writes nothing.
    [Tags]    fibery    segments    mongodb
    [Setup]    Start in an empty folder, with a MongoDB database of its own
    Given Fibery holds the nursery's process segments
    When the process segments are stored in MongoDB
    Then the store reports "inserted 8 / updated 0 / unchanged 0 / removed 0"
    When the process segments are stored in MongoDB again
    Then the store reports "inserted 0 / updated 0 / unchanged 8 / removed 0"
    And MongoDB holds 8 segments, none of them written by the second run
    And MongoDB recorded 2 successful runs
    [Teardown]    Clean up MongoDB
